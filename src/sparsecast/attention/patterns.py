"""Sparse attention patterns as pure functions of positions, and the dense reference attention.

Each function returns a boolean (L, S) mask whose entry (i, j) says whether query i may attend key j. They are the
ground truth that every fast kernel is tested against; the kernels themselves never build these matrices.

Notation: L query length, S key length, l stride (block length), c summary positions per block.
"""

import math

import torch
from torch import Tensor

STRIDED_PARTS = ("union", "local", "stride")
FIXED_PARTS = ("union", "block", "summary")


def _positions(L: int, S: int, device=None) -> tuple[Tensor, Tensor]:
    i = torch.arange(L, device=device).unsqueeze(1)  # (L, 1)
    j = torch.arange(S, device=device).unsqueeze(0)  # (1, S)
    return i, j


def causal_mask(L: int, S: int | None = None, device=None) -> Tensor:
    """Query i sees keys j <= i (top-left aligned, as `scaled_dot_product_attention(is_causal=True)`)."""
    i, j = _positions(L, L if S is None else S, device)
    return j <= i


def strided_mask(L: int, stride: int, causal: bool = True, part: str = "union", device=None) -> Tensor:
    """Strided pattern of the Sparse Transformer (Child et al. 2019, eq. 8-9).

    A1 = {j : max(0, i - l) <= j <= i} (the previous l positions and i itself) and
    A2 = {j : (i - j) mod l = 0, j <= i}. With ``causal=False`` both are mirrored: |i - j| <= l, (i - j) mod l = 0.

    Args:
        part: "union" (A1 | A2), "local" (A1 alone) or "stride" (A2 alone).
    """
    if part not in STRIDED_PARTS:
        raise ValueError(f"part must be one of {STRIDED_PARTS}, got {part!r}")
    i, j = _positions(L, L, device)
    d = i - j  # (L, L)
    local = d.abs() <= stride
    strided = torch.remainder(d, stride) == 0
    mask = {"union": local | strided, "local": local, "stride": strided}[part]
    return mask & (d >= 0) if causal else mask


def fixed_mask(L: int, stride: int, c: int, causal: bool = True, part: str = "union", device=None,
               offset: int = 0) -> Tensor:
    """Fixed pattern of the Sparse Transformer (Child et al. 2019, eq. 10-11).

    A1 = {j : floor(j / l) = floor(i / l)} (the query's own block) and A2 = {j : j mod l in [l - c - offset,
    l - offset)} (c "summary" positions of every block: the last c with ``offset`` 0), both restricted to j <= i
    when causal. Distinct offsets per head give each head its own summary sub-block, the paper's preferred variant.
    A causal query before the first summary position sees no key in A2 alone (its output is zero there).

    Args:
        part: "union" (A1 | A2), "block" (A1 alone) or "summary" (A2 alone).
    """
    if part not in FIXED_PARTS:
        raise ValueError(f"part must be one of {FIXED_PARTS}, got {part!r}")
    i, j = _positions(L, L, device)
    block = (i // stride) == (j // stride)  # (L, L)
    summary = ((j % stride >= stride - c - offset) & (j % stride < stride - offset)).expand(L, L)
    mask = {"union": block | summary, "block": block, "summary": summary}[part]
    return mask & (j <= i) if causal else mask


def dense_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Reference softmax attention under a boolean mask; builds the full (L, S) score matrix.

    A query whose mask row is empty attends to nothing and outputs zeros.

    Shape:
        q: (B, H, L, D); k, v: (B, H, S, D); mask: (L, S) or broadcastable; returns (B, H, L, D).
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, L, S)
    if mask is None:
        return torch.softmax(scores, dim=-1) @ v
    scores = scores.masked_fill(~mask, float("-inf"))
    empty = ~mask.any(dim=-1, keepdim=True)  # (L, 1)
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=-1).masked_fill(empty, 0.0)
    return weights @ v
