"""Strided sparse attention (Sparse Transformer, Child et al. 2019, Section 4.2), as block-structured matmuls.

Notation: B batch, H heads, L length, D head dim, l stride, nb = ceil(L / l) blocks.
"""

from functools import partial

from torch import Tensor

from .base import Attention, check_qkv
from .blocks import auto_stride, neighbour_blocks, neighbour_positions, pad_blocks, query_positions
from .parts import Grid, Part, attend_parts, check_backend, fold_qkv
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
        q, k, v = (pad_blocks(x, l) for x in (q, k, v))  # (B, H, P, D)
        nb = q.shape[2] // l
        grid = Grid(B, H, nb, l)
        i = query_positions(nb, l, q.device)  # (nb, l, 1)
        parts = []
        if self.part in ("union", "local"):
            offsets = (-1, 0) if causal else (-1, 0, 1)
            j = neighbour_positions(nb, l, offsets, q.device).unsqueeze(1)  # (nb, 1, n*l)
            mask = (j >= 0) & (j < L) & ((i - j).abs() <= l)  # (nb, l, n*l)
            if causal:
                mask = mask & (j <= i)
            parts.append(Part(partial(_local, offsets=offsets), mask.unsqueeze(0), "blocks"))
        if self.part in ("union", "stride"):
            b = i // l  # (nb, l, 1) row of each query
            j = (b.new_tensor(range(nb)).view(1, 1, nb) * l) + (i % l)  # (nb, l, nb) key (b', r) position
            b_key = j // l
            mask = j < L
            if causal:
                mask = mask & (b_key <= b)
            if self.part == "union":
                mask = mask & ((b - b_key).abs() >= 2)
            parts.append(Part(partial(fold_qkv, layout="columns"), mask.transpose(0, 1).unsqueeze(0), "columns"))
        return attend_parts(grid, parts, q, k, v, self.backend)[:, :, :L]  # (B, H, L, D)


def _local(q: Tensor, k: Tensor, v: Tensor, grid: Grid, offsets: tuple[int, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """Each block of l queries with the keys of the blocks at ``offsets`` from it: (N, nb, l, D), (N, nb, n*l, D)."""
    kb, vb = (grid.fold(x, "blocks").unsqueeze(0) for x in (k, v))  # (1, N, nb, l, D)
    return grid.fold(q, "blocks"), *(neighbour_blocks(x, offsets)[0] for x in (kb, vb))
