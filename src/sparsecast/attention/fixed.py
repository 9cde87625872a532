"""Fixed sparse attention (Sparse Transformer, Child et al. 2019, Section 4.2), as block-structured matmuls.

Notation: B batch, H heads, L length, D head dim, l block length, c summary positions per block, nb blocks.
"""

from functools import partial

from torch import Tensor

from .base import Attention, check_qkv
from .blocks import auto_stride, pad_blocks, query_positions
from .parts import Grid, Part, attend_parts, check_backend, fold_qkv
from .patterns import FIXED_PARTS


class FixedAttention(Attention):
    """Attention over the fixed pattern: A1 = {j : floor(j/l) = floor(i/l)}, A2 = {j : j mod l >= l - c}.

    With ``offset`` the summary sub-block moves to j mod l in [l - c - offset, l - offset): kernels with offsets
    0, c, 2c, ... on different heads (``HeadGroups``) give each head its own summary positions, which the paper
    prefers. In the summary part alone a causal query before its first summary position sees no key and outputs
    zero (as the dense reference does).

    Causal (j <= i) by default; with ``causal=False`` a query sees its whole block and every summary position.
    Computed without any (L, L) matrix: A1 is attention within each block (l keys per query); A2 is attention to the
    gathered nb * c summary positions, skipping those of the query's own block in the union (A1 holds them).
    Time per head O(L (l + c L / l) D); the fused backend of ``attention.parts`` stores no score matrix at all.

    Args:
        stride: the block length l; ``None`` takes the power of two nearest sqrt(c L) at each call.
        c: summary positions at the end of each block, 1 <= c <= l.
        offset: how far before the block's end the summary positions end (0: the last c); c + offset <= l.
        part: "union" (A1 and A2), "block" (A1 alone) or "summary" (A2 alone).
        backend: "auto", "fused" or "matmul" (see ``attention.parts``); all compute the same function.
    """

    def __init__(self, stride: int | None = None, c: int = 1, part: str = "union", backend: str = "auto",
                 offset: int = 0):
        super().__init__()
        if stride is not None and stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        if c < 1 or offset < 0 or (stride is not None and c + offset > stride):
            raise ValueError(f"c must be in [1, stride - offset] with offset >= 0, got c={c}, offset={offset}, "
                             f"stride={stride}")
        self.offset = offset
        if part not in FIXED_PARTS:
            raise ValueError(f"part must be one of {FIXED_PARTS}, got {part!r}")
        self.stride, self.c, self.part, self.backend = stride, c, part, check_backend(backend)

    def extra_repr(self) -> str:
        return (f"stride={self.stride}, c={self.c}, offset={self.offset}, part={self.part!r}, "
                f"backend={self.backend!r}")

    def forward(self, q: Tensor, k: Tensor, v: Tensor, causal: bool = False) -> Tensor:
        check_qkv(q, k, v, self_attention=True)
        B, H, L, D = q.shape
        l = self.stride or auto_stride(L, self.c)
        c = min(self.c, l)
        end = max(c, l - self.offset)  # the summary sub-block is [end - c, end) of every block
        q, k, v = (pad_blocks(x, l) for x in (q, k, v))  # (B, H, P, D)
        nb = q.shape[2] // l
        grid = Grid(B, H, nb, l)
        i = query_positions(nb, l, q.device)  # (nb, l, 1)
        parts = []
        if self.part in ("union", "block"):
            j = i.transpose(1, 2)  # (nb, 1, l): keys of the same block
            mask = j < L
            if causal:
                mask = mask & (j <= i)
            parts.append(Part(partial(fold_qkv, layout="blocks"), mask.unsqueeze(0), "blocks"))
        if self.part in ("union", "summary"):
            j = query_positions(nb, l, q.device)[:, end - c:end].reshape(1, nb * c)  # (1, nb*c)
            i = i.view(nb * l, 1)  # (P, 1)
            mask = j < L
            if causal:
                mask = mask & (j <= i)
            if self.part == "union":
                mask = mask & (j // l != i // l)
            chunks = ()
            if causal:  # block b's rows see the summary keys of blocks before b (and, alone, some of b's own)
                own = 0 if self.part == "union" else 1
                chunks = tuple((b * l, (b + 1) * l, (b + own) * c) for b in range(nb))
            parts.append(Part(partial(_summary, start=end - c, stop=end), mask, "flat", chunks))  # mask (P, nb*c)
        return attend_parts(grid, parts, q, k, v, self.backend)[:, :, :L]  # (B, H, L, D)


def _summary(q: Tensor, k: Tensor, v: Tensor, grid: Grid, start: int, stop: int) -> tuple[Tensor, Tensor, Tensor]:
    """Every query (B, H, P, D) with the keys at [start, stop) of every block gathered: (B, H, nb * c, D)."""
    B, H, _, D = k.shape
    ks, vs = (x.view(B, H, grid.nb, grid.l, D)[:, :, :, start:stop].reshape(B, H, -1, D) for x in (k, v))
    return q, ks, vs
