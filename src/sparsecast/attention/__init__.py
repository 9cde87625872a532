"""Attention kernels behind one interface: ``attn(q, k, v, causal=False)`` on (B, H, L, D) tensors."""

from .base import Attention
from .fixed import FixedAttention
from .full import FullAttention
from .head_groups import HeadGroups
from .patterns import causal_mask, dense_attention, fixed_mask, strided_mask
from .probsparse import ProbSparseAttention, uniform_output
from .registry import ATTENTION, attention_params, build_attention, kernel_settings
from .strided import StridedAttention

__all__ = [
    "ATTENTION", "Attention", "FixedAttention", "FullAttention", "HeadGroups", "ProbSparseAttention", "StridedAttention",
    "attention_params", "build_attention", "causal_mask", "dense_attention", "fixed_mask", "kernel_settings",
    "strided_mask", "uniform_output",
]
