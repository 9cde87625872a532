"""Autoregressive modeling of bytes and images with the Sparse Transformer."""

from .experiment import bits, load_tokens, sample_lm, train_lm

__all__ = ["bits", "load_tokens", "sample_lm", "train_lm"]
