"""Different attention kernels on different groups of heads (the Sparse Transformer's multi-head combination).

Notation: B batch, H heads, L length, D head dim, G groups.
"""

import torch
from torch import Tensor, nn

from .base import Attention


class HeadGroups(Attention):
    """Split the H heads into len(kernels) equal groups; group g runs kernels[g]; outputs are concatenated.

    E.g. ``HeadGroups([StridedAttention(l, part="local"), StridedAttention(l, part="stride")])`` gives half the heads
    the local pattern A1 and half the strided pattern A2 (Child et al. 2019, eq. 14).
    """

    def __init__(self, kernels: list[Attention]):
        super().__init__()
        if not kernels:
            raise ValueError("HeadGroups needs at least one kernel")
        self.kernels = nn.ModuleList(kernels)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, causal: bool = False) -> Tensor:
        G, H = len(self.kernels), q.shape[1]
        if H % G:
            raise ValueError(f"{H} heads cannot be split into {G} equal groups")
        chunks = zip(q.chunk(G, dim=1), k.chunk(G, dim=1), v.chunk(G, dim=1))
        return torch.cat([kern(*qkv, causal=causal) for kern, qkv in zip(self.kernels, chunks)], dim=1)  # (B,H,L,D)
