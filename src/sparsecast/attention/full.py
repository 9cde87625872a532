"""Exact softmax attention through PyTorch's fused kernel."""

import torch.nn.functional as F
from torch import Tensor

from .base import Attention, check_qkv


class FullAttention(Attention):
    """Dense softmax(q k^T / sqrt(D)) v via ``scaled_dot_product_attention``.

    With ``causal=True`` query i sees keys j <= i (top-left aligned when L != S).
    """

    def forward(self, q: Tensor, k: Tensor, v: Tensor, causal: bool = False) -> Tensor:
        check_qkv(q, k, v)
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # (B, H, L, D)
