"""Fixed sparse attention (Sparse Transformer, Child et al. 2019, Section 4.2), as dense parts of the sequence.

Notation: B batch, H heads, L length, D head dim, l block length, c summary positions per block, nb blocks.
"""

import torch
from torch import Tensor

from .base import Attention, check_qkv
from .blocks import auto_stride, own_block_part, pad_blocks
from .flex import flex_attend, flex_pattern
from .parts import Grid, Part, Piece, attend_parts, check_backend, resolve_backend
from .patterns import FIXED_PARTS


class FixedAttention(Attention):
    """Attention over the fixed pattern: A1 = {j : floor(j/l) = floor(i/l)}, A2 = {j : j mod l >= l - c}.

    With ``offset`` the summary sub-block moves to j mod l in [l - c - offset, l - offset): kernels with offsets
    0, c, 2c, ... on different heads (``HeadGroups``) give each head its own summary positions, which the paper
    prefers. In the summary part alone a causal query before its first summary position sees no key and outputs
    zero (as the dense reference does).

    Causal (j <= i) by default; with ``causal=False`` a query sees its whole block and every summary position.
    Computed without any (L, L) matrix: A1 is attention within each block (l keys per query, views of q, k, v); A2
    is attention to the gathered nb * c summary positions, block by block over ranges of them, skipping those of the
    query's own block in the union (A1 holds them).
    Time per head O(L (l + c L / l) D); the fused backend of ``attention.parts`` stores no score matrix at all.

    Args:
        stride: the block length l; ``None`` takes the power of two nearest sqrt(c L) at each call.
        c: summary positions at the end of each block, 1 <= c <= l.
        offset: how far before the block's end the summary positions end (0: the last c); c + offset <= l.
        part: "union" (A1 and A2), "block" (A1 alone) or "summary" (A2 alone).
        backend: "auto", "fused", "matmul" (see ``attention.parts``), "flex" (``attention.flex``, the GPU's: "auto"
            there) or "flex_whole" (one FlexAttention mask over the whole pattern, for comparison); all compute the
            same function.
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
        backend = resolve_backend(self.backend, q)
        if backend.startswith("flex"):
            kernel = flex_pattern if backend == "flex" else flex_attend
            return kernel(q, k, v, ("fixed", l, c, end, causal, self.part))  # (B, H, L, D)
        q, k, v = (pad_blocks(x, l) for x in (q, k, v))  # (B, H, P, D)
        nb = q.shape[2] // l
        parts = []
        if self.part in ("union", "block"):
            parts.append(own_block_part(nb, l, L, causal, q.device))
        if self.part in ("union", "summary"):
            parts += _summary_parts(nb, l, L, c, end, causal, self.part == "union", q.device)
        return attend_parts(Grid(B, H, nb, l), parts, q, k, v, backend)[:, :, :L]  # (B, H, L, D)


def _summary_parts(nb: int, l: int, L: int, c: int, end: int, causal: bool, union: bool, device) -> list[Part]:
    """A2: every query against the gathered summary positions [end - c, end) of every block (nb * c keys, block by
    block), cut into ranges of them per query block so that no piece needs a large mask.

    Block b's rows see the summaries of blocks before b (all before them). Causal, the summary part alone adds its
    own block's, each row the places up to its own ((l, c) mask, the same for every block); two-sided, the blocks
    after b (the union leaves b's own to A1), masking the last block's padding."""
    s = torch.arange(end - c, end, device=device)
    positions = (torch.arange(nb, device=device).view(nb, 1) * l + s).flatten()  # (nb * c,)
    rows = [(b * l, (b + 1) * l) for b in range(nb)]
    before = Part("flat", tuple(Piece(a, z, keys=(0, b * c)) for b, (a, z) in enumerate(rows) if b), positions)
    if causal:
        if union:
            return [before]
        own = (s.view(1, c) <= torch.arange(l, device=device).view(l, 1))  # (l, c): place s <= the row's place r
        mine = tuple(Piece(a, z, own, keys=(b * c, (b + 1) * c)) for b, (a, z) in enumerate(rows))
        return [before, Part("flat", mine, positions)]
    real = positions < L  # (nb * c,): the last block's padding is no key
    padded = (nb - 1) * l + end > L  # some of the last block's summary positions are padding
    if not union:
        return [Part("flat", (Piece(0, nb * l, real.unsqueeze(0) if padded else None),), positions)]
    after = [Piece(a, z, real[(b + 1) * c:].unsqueeze(0) if padded else None, keys=((b + 1) * c, nb * c))
             for b, (a, z) in enumerate(rows[:-1])]
    return [before, Part("flat", tuple(after), positions)]
