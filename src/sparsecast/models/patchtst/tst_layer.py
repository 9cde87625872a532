"""The encoder layer of PatchTST's own code (its ``TSTEncoderLayer`` with the model's defaults), for a faithful
baseline: post-norm with BatchNorm over the model width, residual attention (each layer's attention logits add the
previous layer's, as in RealFormer) and the attention output dropped out twice (its projection's dropout, then the
residual branch's). Our shared ``EncoderLayer`` differs in all three (LayerNorm, no carried logits, one dropout).

Notation: N series (batch x channels), K patches, H heads, D head dim, E model width.
"""

import math

import torch
from torch import Tensor, nn

from ...nn import Dropout, FeedForward
from ...nn.norm import BatchNormWidth


class TSTEncoderLayer(nn.Module):
    """x = bn1(x + drop(drop(attn(x, prev)))); out = bn2(x + ff(x)); returns out and the attention logits.

    The logits (N, H, K, K) are q k^T / sqrt(D), plus ``prev`` (the previous layer's logits) where given; the first
    layer gets none. Attention is dense and explicit: the logits are what the next layer needs.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, activation: str):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.proj_dropout = Dropout(dropout)
        self.dropout = Dropout(dropout)
        self.norm1 = BatchNormWidth(d_model)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm2 = BatchNormWidth(d_model)

    def _heads(self, x: Tensor) -> Tensor:
        N, K, E = x.shape
        return x.view(N, K, self.n_heads, E // self.n_heads).transpose(1, 2)  # (N, H, K, D)

    def forward(self, x: Tensor, prev: Tensor | None = None) -> tuple[Tensor, Tensor]:
        q, k, v = self._heads(self.q_proj(x)), self._heads(self.k_proj(x)), self._heads(self.v_proj(x))
        N, H, K, D = q.shape
        q = (q / math.sqrt(D)).reshape(N * H, K, D)  # scaled before the product: D values a row, not K
        k = k.reshape(N * H, K, D).transpose(1, 2)
        logits = torch.bmm(q, k) if prev is None else torch.baddbmm(prev.reshape(N * H, K, K), q, k)
        logits = logits.view(N, H, K, K)
        out = torch.softmax(logits, dim=-1) @ v  # (N, H, K, D)
        attended = self.proj_dropout(self.out_proj(out.transpose(1, 2).reshape(N, K, H * D)))  # (N, K, E)
        x = self.norm1(x + self.dropout(attended))
        return self.norm2(x + self.ff(x)), logits  # (N, K, E), (N, H, K, K)
