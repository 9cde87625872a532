"""The GPU path of the strided and fixed kernels: their patterns as FlexAttention mask rules, one fused kernel.

``torch.nn.attention.flex_attention`` compiles a softmax attention whose keys per query are given by a rule
``mask_mod(b, h, q_idx, kv_idx) -> bool``; ``create_block_mask`` evaluates the rule once per (128 x 128) tile of
the (L, L) grid and keeps the tiles that hold any key, so the compiled kernel (Triton on CUDA, C++ on CPU) visits
only those: O(L sqrt(L)) work for the strided and fixed patterns, and no score matrix stored, forward or backward.
The rules below are the same predicates as ``patterns.strided_mask`` / ``fixed_mask`` (the dense references the
tests hold them to), written on index scalars.

A query that sees no key (the causal "summary" head before its block's first summary position) outputs zeros, as
the dense reference does.

Notation: B batch, H heads, L length, D head dim, l stride (block length), c summary positions per block.
"""

from functools import lru_cache

import torch
from torch import Tensor

from .base import building_graph


def strided_rule(l: int, causal: bool, part: str):
    """``strided_mask``'s predicate: |i - j| <= l (A1, "local") or (i - j) mod l = 0 (A2, "stride"), j <= i if
    causal."""
    def mask_mod(b, h, i, j):
        d = i - j
        local, stride = (d <= l) & (d >= -l), d % l == 0
        keep = local | stride if part == "union" else local if part == "local" else stride
        return keep & (d >= 0) if causal else keep
    return mask_mod


def fixed_rule(l: int, c: int, end: int, causal: bool, part: str):
    """``fixed_mask``'s predicate: the query's own block (A1, "block") or a key at a place in [end - c, end) of its
    block (A2, "summary"), j <= i if causal."""
    def mask_mod(b, h, i, j):
        block, place = i // l == j // l, j % l
        summary = (place >= end - c) & (place < end)
        keep = block | summary if part == "union" else block if part == "block" else summary
        return keep & (j <= i) if causal else keep
    return mask_mod


RULES = {"strided": strided_rule, "fixed": fixed_rule}


@lru_cache(maxsize=64)
def block_mask(rule: tuple, L: int, device: str):
    """The block mask of ``rule`` = (pattern name, its arguments...) over an (L, L) grid on ``device``, built once
    per rule, length and device."""
    from torch.nn.attention.flex_attention import create_block_mask

    return create_block_mask(RULES[rule[0]](*rule[1:]), None, None, L, L, device=device)


@lru_cache(maxsize=1)
def _compiled_flex():
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def flex_attend(q: Tensor, k: Tensor, v: Tensor, rule: tuple, compiled: bool = True) -> Tensor:
    """Softmax attention of q over the keys ``rule`` gives each query, one fused FlexAttention kernel.

    ``compiled=False`` runs FlexAttention's eager form, which builds the whole score matrix (for checking the rules
    on small inputs without a compiler); inside torch.compile the call is left to the enclosing graph.

    Shape:
        q, k, v: (B, H, L, D); returns (B, H, L, D).
    """
    from torch.nn.attention.flex_attention import flex_attention

    mask = block_mask(rule, q.shape[2], str(q.device))
    kernel = _compiled_flex() if compiled and not building_graph() else flex_attention
    return kernel(q, k, v, block_mask=mask)
