"""Models: Informer for forecasting, plus simple baselines."""

from .informer import Informer, InformerConfig, decoder_input

__all__ = ["Informer", "InformerConfig", "decoder_input"]
