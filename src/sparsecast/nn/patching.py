"""Patches of a univariate series as tokens (PatchTST, Nie et al., ICLR 2023).

Notation: N series (batch x channels), L series length, P patch length, K patches, E model width.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .dropout import Dropout


def n_patches(seq_len: int, patch_len: int, stride: int) -> int:
    """Patches of ``patch_len`` every ``stride`` steps over the series padded at its end by ``stride`` steps."""
    return (seq_len - patch_len) // stride + 2


class PatchEmbedding(nn.Module):
    """Cut each series into overlapping patches, embed each by one linear map, add a learned position per patch.

    The series is padded at its end by repeating its last value ``stride`` times, so the latest steps fall in a
    full patch (as PatchTST does).

    Shape:
        x: (N, L) -> (N, K, E) with K = n_patches(L, patch_len, stride).
    """

    def __init__(self, seq_len: int, patch_len: int, stride: int, d_model: int, dropout: float):
        super().__init__()
        self.patch_len, self.stride = patch_len, stride
        self.proj = nn.Linear(patch_len, d_model)
        self.position = nn.Parameter(torch.empty(n_patches(seq_len, patch_len, stride), d_model))
        nn.init.uniform_(self.position, -0.02, 0.02)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        padded = F.pad(x.unsqueeze(1), (0, self.stride), mode="replicate").squeeze(1)  # (N, L + stride)
        patches = padded.unfold(-1, self.patch_len, self.stride)  # (N, K, P)
        return self.dropout(self.proj(patches) + self.position)  # (N, K, E)
