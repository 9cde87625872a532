"""Strided sparse attention (Sparse Transformer, Child et al. 2019, Section 4.2), as block-structured matmuls.

Notation: B batch, H heads, L length, D head dim, l stride, nb = ceil(L / l) blocks.
"""

from torch import Tensor

from .base import Attention, check_qkv
from .blocks import auto_stride, neighbour_blocks, neighbour_positions, query_positions, to_blocks
from .parts import Grid, Part, attend_parts, check_backend
from .patterns import STRIDED_PARTS


class StridedAttention(Attention):
    """Attention over the strided pattern: A1 = {j : i - l <= j <= i} and A2 = {j : (i - j) mod l = 0, j <= i}.

    With ``causal=False`` the two-sided pattern |i - j| <= l or (i - j) mod l = 0 is used instead.

    Computed without any (L, L) matrix, as dense parts combined exactly by ``attention.parts``. The local part A1 is
    attention from each block of l queries to the keys of its own and neighbouring blocks (2l keys causal, 3l
    two-sided). The strided part A2 is attention along the columns of the sequence reshaped to (nb, l): query (b, r)
    attends to keys (b', r); in the union it skips |b - b'| <= 1, which A1 already holds. Time per head
    O(L (3l + L / l) D), O(L sqrt(L) D) for l ~ sqrt(L); the fused backend stores no score matrix at all.

    Args:
        stride: l; ``None`` takes the power of two nearest sqrt(L) at each call.
        part: "union" (A1 and A2), "local" (A1 alone) or "stride" (A2 alone): the paper's two heads.
        backend: "auto", "fused" or "matmul" (see ``attention.parts``); all compute the same function.
    """

    def __init__(self, stride: int | None = None, part: str = "union", backend: str = "auto"):
        super().__init__()
        if stride is not None and stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        if part not in STRIDED_PARTS:
            raise ValueError(f"part must be one of {STRIDED_PARTS}, got {part!r}")
        self.stride = stride
        self.part = part
        self.backend = check_backend(backend)

    def extra_repr(self) -> str:
        return f"stride={self.stride}, part={self.part!r}, backend={self.backend!r}"

    def forward(self, q: Tensor, k: Tensor, v: Tensor, causal: bool = False) -> Tensor:
        check_qkv(q, k, v, self_attention=True)
        B, H, L, D = q.shape
        l = self.stride or auto_stride(L)
        qb, kb, vb = to_blocks(q, l), to_blocks(k, l), to_blocks(v, l)  # (B, H, nb, l, D)
        nb = qb.shape[2]
        grid = Grid(B, H, nb, l)
        i = query_positions(nb, l, q.device)  # (nb, l, 1)
        parts = []
        if self.part in ("union", "local"):
            offsets = (-1, 0) if causal else (-1, 0, 1)
            j = neighbour_positions(nb, l, offsets, q.device).unsqueeze(1)  # (nb, 1, n*l)
            mask = (j >= 0) & (j < L) & ((i - j).abs() <= l)  # (nb, l, n*l)
            if causal:
                mask = mask & (j <= i)
            keys, values = (neighbour_blocks(x, offsets).flatten(0, 1) for x in (kb, vb))  # (B*H, nb, n*l, D)
            parts.append(Part(qb.flatten(0, 1), keys, values, mask.unsqueeze(0), "blocks"))
        if self.part in ("union", "stride"):
            b = i // l  # (nb, l, 1) row of each query
            j = (b.new_tensor(range(nb)).view(1, 1, nb) * l) + (i % l)  # (nb, l, nb) key (b', r) position
            b_key = j // l
            mask = j < L
            if causal:
                mask = mask & (b_key <= b)
            if self.part == "union":
                mask = mask & ((b - b_key).abs() >= 2)
            qc, kc, vc = (grid.fold(x.flatten(2, 3), "columns") for x in (qb, kb, vb))  # (B*H, l, nb, D)
            parts.append(Part(qc, kc, vc, mask.transpose(0, 1).unsqueeze(0), "columns"))
        return attend_parts(grid, parts, self.backend)[:, :, :L]  # (B, H, L, D)
