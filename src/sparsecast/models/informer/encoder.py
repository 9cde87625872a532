"""Informer encoder: self-attention layers (``nn.EncoderLayer``) with distilling between them, and the stacked
variant Informer†.

Notation: B batch, L length, E model width, F feed-forward width.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...nn import EncoderLayer
from ...nn.conv import circular_conv


class DistilLayer(nn.Module):
    """Self-attention distilling (eq. 5): Conv1d(k=3) + BatchNorm + ELU + MaxPool(k=3, stride 2); L -> ceil(L / 2)."""

    def __init__(self, d_model: int):
        super().__init__()
        self.conv = nn.Conv1d(d_model, d_model, kernel_size=3, padding=1, padding_mode="circular")
        self.norm = nn.BatchNorm1d(d_model)
        self.pool = nn.MaxPool1d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        B, L, E = x.shape
        x = circular_conv(x, self.conv.weight, self.conv.bias)  # (B, L, E): self.conv's values (nn/conv.py)
        x = F.elu(self.norm(x.reshape(B * L, E))).view(B, L, E)  # BatchNorm over batch and time per channel
        # Pooled in the (B, L, E) layout by the kernel that also returns indices: 5-10x faster there than
        # channels-first or than the kernel without indices (which evaluation would take). Row-major out: bf16 linear
        # layers under autocast read a transposed input 4-7x slower.
        pool = self.pool
        x = F.max_pool1d(x.transpose(1, 2), pool.kernel_size, pool.stride, pool.padding, return_indices=True)[0]
        return x.transpose(1, 2).contiguous()  # (B, ceil(L/2), E)


class Encoder(nn.Module):
    """Attention layers, each but the last followed by a distilling layer when ``distils`` are given; final LayerNorm."""

    def __init__(self, layers: list[EncoderLayer], distils: list[DistilLayer] | None, d_model: int):
        super().__init__()
        if distils and len(distils) != len(layers) - 1:
            raise ValueError(f"need len(layers) - 1 = {len(layers) - 1} distilling layers, got {len(distils)}")
        self.layers = nn.ModuleList(layers)
        self.distils = nn.ModuleList(distils or [])
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor) -> Tensor:
        for n, layer in enumerate(self.layers):
            x = layer(x)
            if n < len(self.distils):
                x = self.distils[n](x)  # (B, ceil(L/2), E)
        return self.norm(x)


class EncoderStack(nn.Module):
    """Informer†: encoder r runs on the last L / 2^r steps of the input; outputs are concatenated along length."""

    def __init__(self, encoders: list[Encoder]):
        super().__init__()
        self.encoders = nn.ModuleList(encoders)

    def forward(self, x: Tensor) -> Tensor:
        L = x.shape[1]
        outs = [enc(x[:, -max(1, L // 2**r):]) for r, enc in enumerate(self.encoders)]
        return torch.cat(outs, dim=1)  # (B, sum of lengths, E)
