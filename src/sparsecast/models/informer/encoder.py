"""Informer encoder: self-attention layers (``nn.EncoderLayer``) with distilling between them, and the stacked
variant Informer†.

Notation: B batch, L length, E model width, F feed-forward width.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...nn import EncoderLayer


class DistilLayer(nn.Module):
    """Self-attention distilling (eq. 5): Conv1d(k=3) + BatchNorm + ELU + MaxPool(k=3, stride 2); L -> ceil(L / 2)."""

    def __init__(self, d_model: int):
        super().__init__()
        self.conv = nn.Conv1d(d_model, d_model, kernel_size=3, padding=1, padding_mode="circular")
        self.norm = nn.BatchNorm1d(d_model)
        self.pool = nn.MaxPool1d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(F.elu(self.norm(self.conv(x.transpose(1, 2)))))  # (B, E, ceil(L/2))
        return x.transpose(1, 2)


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
