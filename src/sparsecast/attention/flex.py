"""The GPU path of the strided and fixed kernels: their patterns as FlexAttention mask rules, one fused kernel.

``torch.nn.attention.flex_attention`` compiles a softmax attention whose keys per query are given by a rule
``mask_mod(b, h, q_idx, kv_idx) -> bool`` and a block mask: the (128 x 128) tiles of the (L, L) grid that hold any
key (``block_mask`` below evaluates the rule a band of tiles at a time to find them), so the compiled kernel
(Triton on CUDA, C++ on CPU) visits only those: O(L sqrt(L)) work for the strided and fixed patterns, and no score
matrix stored, forward or backward.
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


TILE = 128  # FlexAttention's default (query, key) tile
CHUNK = 1 << 24  # rule evaluations per step of the block mask's build (16M; at least one band of 128 query rows)


_MASKS: dict = {}  # (rule, L, device) -> BlockMask


def block_mask(rule: tuple, L: int, device: str):
    """The block mask of ``rule`` = (pattern name, its arguments...) over an (L, L) grid on ``device``, built once
    per rule, length and device and kept.

    A plain dict rather than ``lru_cache``, for torch.compile: dynamo traces through an ``lru_cache`` wrapper, and
    would put the whole build into every compiled forward. From the dict it reads the finished mask as constants.
    The build itself is never traced (``torch.compiler.disable``): a graph traced before the mask exists breaks
    around the build, and keeps that break; so the trainer runs one eager forward before it compiles a model
    (``training.trainer``), and a graph traced then reads the mask and stays whole.
    """
    key = (rule, L, device)
    if key not in _MASKS:
        if len(_MASKS) >= 64:
            _MASKS.pop(next(iter(_MASKS)))
        _MASKS[key] = _build_block_mask(rule, L, device)
    return _MASKS[key]


@torch.compiler.disable
@torch.inference_mode(False)
def _build_block_mask(rule: tuple, L: int, device: str):
    """``block_mask``'s build, a band of query tiles at a time.

    ``create_block_mask`` evaluates the rule on the whole (L, L) grid at once (at L = 65536, 4G entries and 34 GB
    for the index differences alone); here the rule sees max(``CHUNK``, 128 L) entries a step (a few temporaries of
    that size), and only the (L / 128)^2 tile counts are kept. The tiles are the same: partial ones (some keys, the rule applied inside the kernel) and full ones (every key, no rule
    applied), the padding past L counted as masked. Built outside inference mode even when the first call comes
    from a prediction: the mask is kept for training too, where autograd may not save inference tensors.
    """
    from torch.nn.attention.flex_attention import BlockMask

    mask_mod = RULES[rule[0]](*rule[1:])
    n = -(-L // TILE)
    keys = torch.arange(n * TILE, device=device)
    counts = torch.empty(n, n, dtype=torch.int32, device=device)  # (query tile, key tile): keys kept in the tile
    band = max(1, CHUNK // (n * TILE * TILE))  # query tiles per step
    zero = torch.zeros((), dtype=torch.long, device=device)
    for t in range(0, n, band):
        rows = keys[t * TILE:min(n, t + band) * TILE]
        keep = mask_mod(zero, zero, rows[:, None], keys[None, :]) & (rows[:, None] < L) & (keys[None, :] < L)
        counts[t:t + len(rows) // TILE] = keep.view(-1, TILE, n, TILE).sum((1, 3), dtype=torch.int32)
    full = counts == TILE * TILE

    def ordered(tiles: Tensor) -> tuple[Tensor, Tensor]:
        """Per query tile: how many key tiles, and their indices first (ascending), as BlockMask takes them."""
        tiles = tiles.to(torch.int32)[None, None]  # (1, 1, n, n)
        order = torch.argsort(tiles, dim=-1, descending=True, stable=True)
        return tiles.sum(-1, dtype=torch.int32), order.to(torch.int32)

    return BlockMask.from_kv_blocks(*ordered((counts > 0) & ~full), *ordered(full), BLOCK_SIZE=(TILE, TILE),
                                    mask_mod=mask_mod, seq_lengths=(L, L))


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
