"""Strided sparse attention (Sparse Transformer, Child et al. 2019, Section 4.2), as block-structured matmuls.

Notation: B batch, H heads, L length, D head dim, l stride, nb = ceil(L / l) blocks.
"""

from torch import Tensor

from .base import Attention, check_qkv
from .blocks import (
    auto_stride,
    from_blocks,
    joint_softmax,
    masked_scores,
    neighbour_blocks,
    neighbour_positions,
    query_positions,
    to_blocks,
)
from .patterns import STRIDED_PARTS


class StridedAttention(Attention):
    """Attention over the strided pattern: A1 = {j : i - l <= j <= i} and A2 = {j : (i - j) mod l = 0, j <= i}.

    With ``causal=False`` the two-sided pattern |i - j| <= l or (i - j) mod l = 0 is used instead.

    Computed without any (L, L) matrix. The local part A1 is attention from each block of l queries to the keys of
    its own and neighbouring blocks (2l keys causal, 3l two-sided). The strided part A2 is attention along the columns
    of the sequence reshaped to (nb, l): query (b, r) attends to keys (b', r); in the union it skips |b - b'| <= 1,
    which A1 already holds. Memory per head O(L (3l + L / l)), O(L sqrt(L)) for l ~ sqrt(L).

    Args:
        stride: l; ``None`` takes ceil(sqrt(L)) at each call.
        part: "union" (A1 and A2), "local" (A1 alone) or "stride" (A2 alone): the paper's two heads.
    """

    def __init__(self, stride: int | None = None, part: str = "union"):
        super().__init__()
        if stride is not None and stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        if part not in STRIDED_PARTS:
            raise ValueError(f"part must be one of {STRIDED_PARTS}, got {part!r}")
        self.stride = stride
        self.part = part

    def extra_repr(self) -> str:
        return f"stride={self.stride}, part={self.part!r}"

    def forward(self, q: Tensor, k: Tensor, v: Tensor, causal: bool = False) -> Tensor:
        check_qkv(q, k, v, self_attention=True)
        L = q.shape[2]
        l = self.stride or auto_stride(L)
        qb, kb, vb = to_blocks(q, l), to_blocks(k, l), to_blocks(v, l)  # (B, H, nb, l, D)
        nb = qb.shape[2]
        i = query_positions(nb, l, q.device)  # (nb, l, 1)
        scores, values = [], []
        if self.part in ("union", "local"):
            offsets = (-1, 0) if causal else (-1, 0, 1)
            j = neighbour_positions(nb, l, offsets, q.device).unsqueeze(1)  # (nb, 1, n*l)
            mask = (j >= 0) & (j < L) & ((i - j).abs() <= l)  # (nb, l, n*l)
            if causal:
                mask = mask & (j <= i)
            scores.append(masked_scores(qb, neighbour_blocks(kb, offsets), mask))  # (B, H, nb, l, n*l)
            values.append(("local", neighbour_blocks(vb, offsets)))  # (B, H, nb, n*l, D)
        if self.part in ("union", "stride"):
            b = i // l  # (nb, l, 1) row of each query
            j = (b.new_tensor(range(nb)).view(1, 1, nb) * l) + (i % l)  # (nb, l, nb) key (b', r) position
            b_key = j // l
            mask = j < L
            if causal:
                mask = mask & (b_key <= b)
            if self.part == "union":
                mask = mask & ((b - b_key).abs() >= 2)
            qc, kc = qb.transpose(2, 3), kb.transpose(2, 3)  # (B, H, l, nb, D): columns
            col = masked_scores(qc, kc, mask.transpose(0, 1))  # (B, H, l, nb, nb)
            scores.append(col.transpose(2, 3))  # (B, H, nb, l, nb)
            values.append(("column", vb.transpose(2, 3)))  # (B, H, l, nb, D)
        out = 0
        for weights, (kind, val) in zip(joint_softmax(scores), values):
            if kind == "local":
                out = out + weights @ val  # (B, H, nb, l, D)
            else:
                out = out + (weights.transpose(2, 3) @ val).transpose(2, 3)  # (B, H, nb, l, D)
        return from_blocks(out, L)
