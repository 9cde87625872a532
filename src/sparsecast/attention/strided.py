"""Strided sparse attention (Sparse Transformer, Child et al. 2019, Section 4.2), as dense parts of the sequence.

Notation: B batch, H heads, L length, D head dim, l stride, nb = ceil(L / l) blocks.
"""

import torch
from torch import Tensor

from .base import Attention, check_qkv
from .blocks import auto_stride, own_block_part, pad_blocks
from .flex import flex_attend, flex_pattern
from .parts import Grid, Part, Piece, attend_parts, check_backend, resolve_backend
from .patterns import STRIDED_PARTS


class StridedAttention(Attention):
    """Attention over the strided pattern: A1 = {j : i - l <= j <= i} and A2 = {j : (i - j) mod l = 0, j <= i}.

    With ``causal=False`` the two-sided pattern |i - j| <= l or (i - j) mod l = 0 is used instead.

    Computed without any (L, L) matrix, as dense parts combined exactly by ``attention.parts``. The local part A1 is
    attention from each block of l queries to its own block (causal within it), to the block before and, two-sided,
    the block after, each under one (l, l) mask shared by every block. The strided part A2 is attention along the
    columns of the sequence reshaped to (nb, l): query (b, r) attends to keys (b', r); in the union it skips
    |b - b'| <= 1, which A1 already holds. Every part reads q, k, v as views. Time per head O(L (3l + L / l) D),
    O(L sqrt(L) D) for l ~ sqrt(L); the fused backend stores no score matrix at all.

    Args:
        stride: l; ``None`` takes the power of two nearest sqrt(L) at each call.
        part: "union" (A1 and A2), "local" (A1 alone) or "stride" (A2 alone): the paper's two heads.
        backend: "auto", "fused", "matmul" (see ``attention.parts``), "flex" (``attention.flex``, the GPU's: "auto"
            there) or "flex_whole" (one FlexAttention mask over the whole pattern, for comparison); all compute the
            same function.
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
        backend = resolve_backend(self.backend, q)
        if backend.startswith("flex"):
            kernel = flex_pattern if backend == "flex" else flex_attend
            return kernel(q, k, v, ("strided", l, causal, self.part))  # (B, H, L, D)
        q, k, v = (pad_blocks(x, l) for x in (q, k, v))  # (B, H, P, D)
        nb = q.shape[2] // l
        parts = []
        if self.part in ("union", "local"):
            parts += _local_parts(nb, l, L, causal, q.device)
        if self.part in ("union", "stride"):
            parts.append(_column_part(nb, l, L, causal, self.part == "union", q.device))
        return attend_parts(Grid(B, H, nb, l), parts, q, k, v, backend)[:, :, :L]  # (B, H, L, D)


def _local_parts(nb: int, l: int, L: int, causal: bool, device) -> list[Part]:
    """A1 as blocks of l queries: their own block (causal within it), the previous block (keys j >= i - l: places
    r' >= r) and, two-sided, the next block (j <= i + l: r' <= r). Views of q, k, v; the masks are (1, l, l)."""
    r = torch.arange(l, device=device)
    rq, rk = r.view(l, 1), r.view(1, l)  # query and key place in their blocks
    parts = [own_block_part(nb, l, L, causal, device)]
    if nb > 1:
        parts.append(Part("blocks", (Piece(1, nb, (rk >= rq).unsqueeze(0), shift=-1),)))
    if nb > 1 and not causal:
        nxt, rem = rk <= rq, L - (nb - 1) * l  # rem: real places in the last block, whose padding is no key
        last = (nxt & (rk < rem)).unsqueeze(0)
        pieces = (Piece(0, nb - 1, nxt.unsqueeze(0), shift=1),) if rem == l else (
            Piece(0, nb - 2, nxt.unsqueeze(0), shift=1), Piece(nb - 2, nb - 1, last, shift=1))
        parts.append(Part("blocks", tuple(p for p in pieces if p.stop > p.start)))
    return parts


def _column_part(nb: int, l: int, L: int, causal: bool, union: bool, device) -> Part:
    """A2 as the l columns of the sequence reshaped to (nb, l): query (b, r) sees keys (b', r), b' <= b when causal,
    and in the union only |b - b'| >= 2 (A1 holds the rest). Views of q, k, v; the masks are (1, nb, nb)."""
    b = torch.arange(nb, device=device)
    bq, bk = b.view(nb, 1), b.view(1, nb)  # query and key rows
    mask = (bk <= bq) if causal else torch.ones(nb, nb, dtype=torch.bool, device=device)
    if union:
        mask = mask & ((bq - bk).abs() >= 2)
    seen = None if not (causal or union) else mask.unsqueeze(0)  # None: every key (decided without reading mask,
    rem = L - (nb - 1) * l  # which export could not); columns [rem, l) have padding in their last row: a key only
    if causal or rem == l:  # to padding queries when causal, otherwise masked
        return Part("columns", (Piece(0, l, seen),))
    return Part("columns", (Piece(0, rem, seen), Piece(rem, l, (mask & (bk < nb - 1)).unsqueeze(0))))
