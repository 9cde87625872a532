"""The GPU path of the strided and fixed kernels: their patterns as FlexAttention mask rules and compiled kernels.

``torch.nn.attention.flex_attention`` compiles a softmax attention whose keys per query are given by a rule
``mask_mod(b, h, q_idx, kv_idx) -> bool`` and a block mask: the (128 x 128) tiles of the (L, L) grid that hold any
key (``block_mask`` below evaluates the rule a band of tiles at a time to find them), so the compiled kernel
(Triton on CUDA, C++ on CPU) visits only those: O(L sqrt(L)) work for the strided and fixed patterns, and no score
matrix stored, forward or backward.
The rules below are the same predicates as ``patterns.strided_mask`` / ``fixed_mask`` (the dense references the
tests hold them to), written on index scalars.

A query that sees no key (the causal "summary" head before its block's first summary position) outputs zeros, as
the dense reference does.

One mask over the whole (L, L) grid is not enough on its own: the strided pattern's column keys (j = i - kl) fall
in nearly every 128-wide key tile, and the fixed pattern's summary keys (c of every l) in every one, so its block
mask is nearly dense and the kernel visits about as many tiles as causal attention does (measured on an H200:
``benchmarks/results/attention/gpu``). ``flex_pattern`` therefore runs each pattern as parts in layouts where their
keys are dense, one FlexAttention call per part, and combines the parts exactly through their log-sum-exps (as
``attention.parts`` does on the CPU):
- strided: the local band (|i - j| <= l) on the sequence, whose tiles are dense; the columns (i - j = kl) as
  attention along the l columns of the sequence reshaped to (nb, l), each column a sequence of nb positions (the
  columns become heads), of which the union keeps rows two or more apart (the band holds the rest);
- fixed: the own block on the sequence (block-diagonal tiles); the summary keys gathered into nb * c positions,
  which every query attends over.
Its gradients flow through FlexAttention's output and log-sum-exp (FlexAttention differentiates both).

Notation: B batch, H heads, L length, D head dim, l stride (block length), c summary positions per block,
nb = ceil(L / l) blocks, P = nb * l padded length.
"""

from functools import lru_cache

import torch
from torch import Tensor

from .base import building_graph
from .blocks import pad_blocks
from .parts import Grid


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


def columns_rule(causal: bool, gap: int):
    """The strided columns in their own layout (column r of the sequence reshaped to (nb, l) as a sequence of nb
    rows): key row j for query row i when i - j >= gap (causal) or |i - j| >= gap; gap 2 in the union, whose band
    holds the rows one apart, 0 for the columns alone."""
    def mask_mod(b, h, i, j):
        d = i - j
        return d >= gap if causal else (d >= gap) | (d <= -gap)
    return mask_mod


def summary_rule(l: int, c: int, end: int, L: int, causal: bool, union: bool):
    """The fixed pattern's summary keys gathered (key j: place end - c + j % c of block j // c) against queries on the
    sequence: those at or before the query if causal (every real one if not); in the union only other blocks'."""
    def mask_mod(b, h, i, j):
        block = j // c
        at = block * l + end - c + j % c  # the key's position in the sequence
        seen = at <= i if causal else at < L
        return seen & (block != i // l) if union else seen
    return mask_mod


RULES = {"strided": strided_rule, "fixed": fixed_rule, "columns": columns_rule, "summary": summary_rule}


TILE = 128  # FlexAttention's default (query, key) tile
CHUNK = 1 << 24  # rule evaluations per step of the block mask's build (16M; at least one band of 128 query rows)


_MASKS: dict = {}  # (rule, L, S, device) -> BlockMask


def block_mask(rule: tuple, L: int, device: str, S: int | None = None):
    """The block mask of ``rule`` = (rule name, its arguments...) over an (L, S) grid on ``device`` (L queries, S
    keys; S = L unless given), built once per rule, lengths and device and kept.

    A plain dict rather than ``lru_cache``, for torch.compile: dynamo traces through an ``lru_cache`` wrapper, and
    would put the whole build into every compiled forward. From the dict it reads the finished mask as constants.
    The build itself is never traced (``torch.compiler.disable``, applied by ``_untraced_build``): a graph traced
    before the mask exists breaks around the build, and keeps that break; so the trainer runs one eager forward before it compiles a model
    (``training.trainer``), and a graph traced then reads the mask and stays whole.
    """
    S = L if S is None else S
    key = (rule, L, S, device)
    if key not in _MASKS:
        if len(_MASKS) >= 64:
            _MASKS.pop(next(iter(_MASKS)))
        _MASKS[key] = _untraced_build()(rule, L, S, device)
    return _MASKS[key]


_UNTRACED: list = []  # _build_block_mask under torch.compiler.disable, made on first use


def _untraced_build():
    """``_build_block_mask`` wrapped by ``torch.compiler.disable`` when a mask is first built: the wrapper imports
    torch._dynamo, which at import time would add two seconds to every command and ``import sparsecast``."""
    if not _UNTRACED:
        _UNTRACED.append(torch.compiler.disable(_build_block_mask))
    return _UNTRACED[0]


@torch.inference_mode(False)
def _build_block_mask(rule: tuple, L: int, S: int, device: str):
    """``block_mask``'s build, a band of query tiles at a time.

    ``create_block_mask`` evaluates the rule on the whole (L, S) grid at once (at L = S = 65536, 4G entries and 34 GB
    for the index differences alone); here the rule sees max(``CHUNK``, 128 S) entries a step (a few temporaries of
    that size), and only the (L / 128) x (S / 128) tile counts are kept. The tiles are the same: partial ones (some
    keys, the rule applied inside the kernel) and full ones (every key, no rule applied), the padding past L and S
    counted as masked. Built outside inference mode even when the first call comes
    from a prediction: the mask is kept for training too, where autograd may not save inference tensors.
    """
    from torch.nn.attention.flex_attention import BlockMask

    mask_mod = RULES[rule[0]](*rule[1:])
    n, m = -(-L // TILE), -(-S // TILE)  # query and key tiles
    queries, keys = torch.arange(n * TILE, device=device), torch.arange(m * TILE, device=device)
    counts = torch.empty(n, m, dtype=torch.int32, device=device)  # (query tile, key tile): keys kept in the tile
    band = max(1, CHUNK // (m * TILE * TILE))  # query tiles per step
    zero = torch.zeros((), dtype=torch.long, device=device)
    for t in range(0, n, band):
        rows = queries[t * TILE:min(n, t + band) * TILE]
        keep = mask_mod(zero, zero, rows[:, None], keys[None, :]) & (rows[:, None] < L) & (keys[None, :] < S)
        counts[t:t + len(rows) // TILE] = keep.view(-1, TILE, m, TILE).sum((1, 3), dtype=torch.int32)
    full = counts == TILE * TILE

    def ordered(tiles: Tensor) -> tuple[Tensor, Tensor]:
        """Per query tile: how many key tiles, and their indices first (ascending), as BlockMask takes them."""
        tiles = tiles.to(torch.int32)[None, None]  # (1, 1, n, n)
        order = torch.argsort(tiles, dim=-1, descending=True, stable=True)
        return tiles.sum(-1, dtype=torch.int32), order.to(torch.int32)

    return BlockMask.from_kv_blocks(*ordered((counts > 0) & ~full), *ordered(full), BLOCK_SIZE=(TILE, TILE),
                                    mask_mod=mask_mod, seq_lengths=(L, S))


@lru_cache(maxsize=1)
def _compiled_flex():
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def flex_attend(q: Tensor, k: Tensor, v: Tensor, rule: tuple, compiled: bool = True, return_lse: bool = False):
    """Softmax attention of q over the keys ``rule`` gives each query, one fused FlexAttention kernel.

    ``compiled=False`` runs FlexAttention's eager form, which builds the whole score matrix (for checking the rules
    on small inputs without a compiler); inside torch.compile the call is left to the enclosing graph.
    ``return_lse``: also the log-sum-exp of each query's scores (-inf, with a zero output, where it sees no key).

    Shape:
        q: (B, H, L, D), k, v: (B, H, S, D); returns (B, H, L, D) (and the log-sum-exp, (B, H, L), float32 or wider).
    """
    from torch.nn.attention.flex_attention import AuxRequest, flex_attention

    mask = block_mask(rule, q.shape[2], str(q.device), k.shape[2])
    kernel = _compiled_flex() if compiled and not building_graph() else flex_attention
    if not return_lse:
        return kernel(q, k, v, block_mask=mask)
    o, aux = kernel(q, k, v, block_mask=mask, return_aux=AuxRequest(lse=True))
    return o, aux.lse


def flex_pattern(q: Tensor, k: Tensor, v: Tensor, rule: tuple, compiled: bool = True) -> Tensor:
    """The strided or fixed pattern (``rule`` as ``RULES["strided"]`` / ``RULES["fixed"]`` take it, after its name)
    as parts in layouts where their keys are dense, one FlexAttention call each, combined exactly through their
    log-sum-exps (the module's docstring). The same function as ``flex_attend(q, k, v, rule)``.

    On the CPU, compiled FlexAttention runs inference only and returns no log-sum-exp (torch 2.13): there the
    pattern runs as one mask (``flex_attend``); the CPU's own kernels are ``attention.parts``.

    Shape:
        q, k, v: (B, H, L, D); returns (B, H, L, D).
    """
    if compiled and q.device.type == "cpu":
        return flex_attend(q, k, v, rule, compiled)
    if rule[0] == "strided":
        return _strided_parts(q, k, v, *rule[1:], compiled=compiled)
    if rule[0] == "fixed":
        return _fixed_parts(q, k, v, *rule[1:], compiled=compiled)
    raise ValueError(f"flex_pattern runs the strided and fixed patterns, got {rule[0]!r}")


def _strided_parts(q: Tensor, k: Tensor, v: Tensor, l: int, causal: bool, part: str, compiled: bool) -> Tensor:
    B, H, L, _ = q.shape
    # The band alone is dense in its tiles already. Two-sided with a partial last row, the columns would need a
    # padding mask that differs from column to column (head to head): one mask over the whole pattern there.
    if part == "local" or (not causal and L % l):
        return flex_attend(q, k, v, ("strided", l, causal, part), compiled)
    union = part == "union"
    q, k, v = (pad_blocks(x, l) for x in (q, k, v))  # (B, H, P, D); causal, a padding key is no real query's
    grid = Grid(B, H, q.shape[2] // l, l)
    # (B*H, l, nb, D): the columns as heads, passed as strided views without a .contiguous() of our own
    # (FlexAttention's kernels take any strides; fold's reshape copies only an input whose B and H do not merge)
    cols = [grid.fold(x, "columns") for x in (q, k, v)]
    o, lse = flex_attend(*cols, ("columns", causal, 2 if union else 0), compiled, return_lse=True)
    o, lse = (grid.unfold(x, "columns") for x in (o, lse.unsqueeze(-1)))  # (B, H, P, D), (B, H, P, 1)
    if union:  # the band holds the column keys one row away (i - j = l) and the query itself
        band_o, band_lse = flex_attend(q, k, v, ("strided", l, causal, "local"), compiled, return_lse=True)
        o = _combine(o, lse, band_o, band_lse.unsqueeze(-1))
    return o[:, :, :L]  # (B, H, L, D)


def _fixed_parts(q: Tensor, k: Tensor, v: Tensor, l: int, c: int, end: int, causal: bool, part: str,
                 compiled: bool) -> Tensor:
    if part == "block":  # block-diagonal tiles: dense already
        return flex_attend(q, k, v, ("fixed", l, c, end, causal, part), compiled)
    B, H, L, D = q.shape
    nb = -(-L // l)
    ks, vs = (pad_blocks(x, l).view(B, H, nb, l, D)[:, :, :, end - c:end].reshape(B, H, nb * c, D)
              for x in (k, v))  # (B, H, nb * c, D): the summary keys gathered; padding ones masked by the rule
    union = part == "union"
    o, lse = flex_attend(q, ks, vs, ("summary", l, c, end, L, causal, union), compiled, return_lse=True)
    if not union:
        return o
    block_o, block_lse = flex_attend(q, k, v, ("fixed", l, c, end, causal, "block"), compiled, return_lse=True)
    return _combine(o, lse.unsqueeze(-1), block_o, block_lse.unsqueeze(-1))  # (B, H, L, D)


def _combine(o1: Tensor, lse1: Tensor, o2: Tensor, lse2: Tensor) -> Tensor:
    """Attention over the union of two disjoint key sets from each one's output (.., n, D) and log-sum-exp (.., n, 1):
    O = w o1 + (1 - w) o2 with w = exp(lse1) / (exp(lse1) + exp(lse2)) = sigmoid(lse1 - lse2). Every query of the
    patterns' unions sees a key in one set at least (itself), so w is defined. One interpolation in the outputs'
    precision: in bf16 no float32 copy of either output is made (they are most of the parts' memory at 64k)."""
    w = torch.sigmoid(lse1 - lse2).to(o1.dtype)  # (.., n, 1)
    return torch.lerp(o2, o1, w)
