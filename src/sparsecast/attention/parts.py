"""Attention over several disjoint key parts, combined exactly: the engine of the block-sparse kernels.

A sparse pattern is cut into parts, each a batch of dense attentions in its own layout of the (padded) sequence:
"blocks" (nb blocks of l queries), "columns" (l columns of nb queries, the sequence reshaped to (nb, l)) or "flat"
(all P queries at once). A part is a list of pieces: a range of its layout's items (blocks, columns; rows in "flat")
with the keys they see, either the items' own (or those ``shift`` items away) or, in "flat", positions the part
gathers; and a boolean mask that broadcasts over the items, or the causal rule within square items, or nothing.
Each piece gives its queries an output o_p and a log-sum-exp lse_p over the keys it holds; the query's attention
over the union of its keys is

    LSE = log sum_p exp(lse_p),    O = sum_p exp(lse_p - LSE) o_p,

which is exactly one softmax over all the query's keys, provided the parts are disjoint (each kernel keeps a key
shared by two halves of a pattern in one part only). A query in no piece of a part sees no key there.

Two backends compute the same function:
- "fused" (CPU, not under export): each piece is PyTorch's fused CPU flash-attention kernel, which never stores a score
  matrix, on views of q, k, v (only "flat" parts that gather keys copy them, a few per block). Pieces are run a tile of
  items at a time (about ``SLICE_ELEMENTS`` queries' elements) on a slice of the batch and heads, and each tile is
  folded into the output at once (the running log-sum-exp above), so the memory beside q, k, v and the output is a few
  tiles, whatever the length. With n > 1 torch threads and at least 2n slices, the slices run on n worker threads of one
  torch thread each (``attention.workers``): the kernel's own threads scale poorly on tiles this small. The backward
  pass is the flash-attention backward of each tile called with the *combined* O and LSE: with them, a tile's recomputed
  probabilities exp(s - LSE) are the query's true weights restricted to that tile, and the row term rowsum(dO * O) is
  the combined one, so the tiles' gradients add up to the gradient of the whole; they are added straight into the views
  of dq, dk, dv they came from. Nothing of size (queries x keys) is kept between forward and backward: the attention is
  recomputed in the backward pass.
- "matmul" (any device, ONNX/torch.export): explicit scores per part, one softmax over their concatenation.

Notation: B batch, H heads, P = nb * l padded length, D head dim; a blocks / columns part's tensors are (N, M, n, D)
queries and (N, M, m, D) keys/values (N = B' * H' for the slice (B', H') of the batch and heads they are cut from,
M items of n queries); a flat part's are (B', H', n, D) and (B', H', m, D).
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import building_graph
from .workers import run_slices

_FLASH = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
_FLASH_BACKWARD = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward
BACKENDS = ("auto", "fused", "matmul", "flex", "flex_whole")
LAYOUTS = ("blocks", "columns", "flat")


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


def resolve_backend(backend: str, q: Tensor) -> str:
    """The backend "auto" stands for with q where it is: on a GPU "flex" (``attention.flex``; "matmul" under
    tracing or ONNX export), on the CPU "fused" ("matmul" while any graph is recorded); any other name unchanged."""
    if check_backend(backend) != "auto":
        return backend
    if q.device.type != "cpu":
        return "matmul" if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() else "flex"
    return "matmul" if building_graph() else "fused"


@dataclass(frozen=True)
class Grid:
    """The padded sequence as nb blocks of length l, for B batches and H heads."""

    B: int
    H: int
    nb: int
    l: int

    def fold(self, x: Tensor, layout: str) -> Tensor:
        """(B, H, P, X) -> the layout's (N, M, n, X), a view ("flat": x itself)."""
        if layout == "flat":
            return x
        x = x.reshape(self.B * self.H, self.nb, self.l, x.shape[-1])  # (B*H, nb, l, X)
        return x if layout == "blocks" else x.transpose(1, 2)  # columns: (B*H, l, nb, X)

    def unfold(self, x: Tensor, layout: str) -> Tensor:
        """The layout's (N, M, n, X) -> (B, H, P, X); inverse of ``fold``."""
        if layout == "columns":
            x = x.transpose(1, 2)  # (B*H, nb, l, X)
        return x.reshape(self.B, self.H, self.nb * self.l, x.shape[-1])


# Elements of one slice of q (and of k, v) that the fused backend handles at a time, and of one tile of a piece's
# queries: 1 MiB in fp32, one head of 4,096 x 64. A slice holds one head at least; tiles cut it further.
SLICE_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class Piece:
    """Queries [start, stop) of a part's layout (its items: blocks or columns; rows in "flat") and their keys.

    Args:
        mask: boolean, broadcastable to (stop - start, n, m) (blocks, columns; its first size 1 or the items') or
            (stop - start, m) ("flat"; first size 1 or the rows'): which of the piece's keys each query sees.
            None: all of them.
        causal: the keys are the items' own, each query seeing those up to its own place (square items), instead of
            a mask.
        shift: blocks / columns: the keys of item i are those of item i + shift.
        keys: "flat": the piece sees the part's keys [keys[0], keys[1]) (None: all).
    """

    start: int
    stop: int
    mask: Tensor | None = None
    causal: bool = False
    shift: int = 0
    keys: tuple[int, int] | None = None

    def __post_init__(self):
        if self.causal and (self.mask is not None or self.shift or self.keys is not None):
            raise ValueError("a causal piece takes its items' own keys: no mask, shift or key range")


@dataclass(frozen=True)
class Part:
    """One part of a sparse pattern: a layout, and the pieces (disjoint query ranges, in order) it is cut into.

    ``positions`` ("flat" only): the key positions the part gathers (its keys are k[:, :, positions]); None: every
    position of the padded sequence.
    """

    layout: str
    pieces: tuple[Piece, ...]
    positions: Tensor | None = None

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        flat = self.layout == "flat"
        for piece in self.pieces:  # the mask's first size is the items' (rows' in "flat"), or 1
            if piece.mask is not None and piece.mask.dim() != (2 if flat else 3):
                raise ValueError(f"a {self.layout} piece's mask is {2 if flat else 3}-D, got {piece.mask.dim()}-D")
            if flat and (piece.causal or piece.shift) or not flat and piece.keys is not None:
                raise ValueError("key ranges belong to flat pieces, causal and shift to blocks / columns")


def attend_parts(grid: Grid, parts: list[Part], q: Tensor, k: Tensor, v: Tensor, backend: str = "auto") -> Tensor:
    """Softmax attention of every query of q (B, H, P, D) over the union of its keys in ``parts``, with q, k, v all
    padded to the grid's P = nb * l; returns (B, H, P, D).

    A query with no key in any part outputs zeros. ``backend``: "fused" or "matmul" ("auto": ``resolve_backend``).
    """
    backend = resolve_backend(backend, q)
    if backend.startswith("flex"):
        raise ValueError("the flex backends attend over a whole pattern (attention.flex), not over parts")
    if backend == "matmul":
        return _attend_matmul(grid, parts, q, k, v)
    return _FusedParts.apply(grid, parts, q, k, v)


def _keys(x: Tensor, grid: Grid, part: Part) -> Tensor:
    """The part's key (or value) source from (B', H', P, D): the layout's view, or the gathered positions."""
    if part.layout != "flat":
        return grid.fold(x, part.layout)
    return x if part.positions is None else x.index_select(2, part.positions)  # (B', H', m, D)


def _take(x: Tensor, layout: str, a: int, b: int) -> Tensor:
    """Items (rows in "flat") [a, b) of a folded tensor: a view."""
    return x[:, :, a:b] if layout == "flat" else x[:, a:b]


def _piece_keys(x: Tensor, part: Part, piece: Piece, a: int, b: int) -> Tensor:
    """The keys (values) of the piece's queries [a, b) in the part's key source x."""
    if part.layout == "flat":
        return x if piece.keys is None else x[:, :, piece.keys[0]:piece.keys[1]]
    return x[:, a + piece.shift:b + piece.shift]


def _piece_mask(piece: Piece, a: int, b: int) -> Tensor | None:
    m = piece.mask
    whole = m is None or m.shape[0] == 1 or (a, b) == (piece.start, piece.stop)
    return m if whole else m[a - piece.start:b - piece.start]


def _attend_matmul(grid: Grid, parts: list[Part], q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    scores, values = [], []
    for p in parts:
        s, pv = _part_scores(grid, p, q, k, v)
        scores.append(grid.unfold(s, p.layout))  # (B, H, P, m)
        values.append(pv)
    widths = [s.shape[-1] for s in scores]
    scores = torch.cat(scores, dim=-1)  # (B, H, P, sum m)
    empty = torch.isneginf(scores).all(dim=-1, keepdim=True)  # no data-dependent branch: stays exportable
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=-1).masked_fill(empty, 0.0)
    out = 0
    for p, pv, w in zip(parts, values, weights.split(widths, dim=-1)):
        out = out + grid.unfold(grid.fold(w, p.layout) @ pv, p.layout)  # (B, H, P, D)
    return out


def _part_scores(grid: Grid, p: Part, q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """A part's masked scores over every query of its layout, (N, M, n, m) or (B, H, P, m) in "flat" (-inf where a
    query sees no key of it), and the values they weigh, (N, M, m, D) or (B, H, m, D)."""
    qf, kf, vf = grid.fold(q, p.layout), _keys(k, grid, p), _keys(v, grid, p)
    if p.layout == "flat":  # one product and one (P, m) mask, whatever the pieces
        seen = torch.zeros(qf.shape[2], kf.shape[2], dtype=torch.bool, device=q.device)
        for piece in p.pieces:
            k0, k1 = piece.keys or (0, kf.shape[2])
            seen[piece.start:piece.stop, k0:k1] = True if piece.mask is None else piece.mask
        s = (qf @ kf.transpose(-2, -1) / math.sqrt(qf.shape[-1])).masked_fill(~seen, float("-inf"))
        return s, vf
    n_keys = kf.shape[2]  # per item

    def gap(size: int) -> list[tuple[Tensor, Tensor]]:  # items that see no key of the part: -inf scores, zero values
        return [(qf.new_full((qf.shape[0], size, qf.shape[2], n_keys), float("-inf")),
                 vf.new_zeros((vf.shape[0], size, n_keys, vf.shape[-1])))] if size else []

    pieces, at = [], 0
    for piece in p.pieces:
        pq, pk = _take(qf, p.layout, piece.start, piece.stop), _piece_keys(kf, p, piece, piece.start, piece.stop)
        s = pq @ pk.transpose(-2, -1) / math.sqrt(pq.shape[-1])
        if piece.causal:
            s = s.masked_fill(~torch.ones(s.shape[-2:], dtype=torch.bool, device=s.device).tril(), float("-inf"))
        elif piece.mask is not None:
            s = s.masked_fill(~piece.mask, float("-inf"))
        pieces += gap(piece.start - at) + [(s, _piece_keys(vf, p, piece, piece.start, piece.stop))]
        at = piece.stop
    scores, values = zip(*(pieces + gap(qf.shape[1] - at)))
    return torch.cat(scores, dim=1), torch.cat(values, dim=1)


@dataclass(frozen=True)
class _Tile:
    """Queries [a, b) of a piece, with the piece's mask for them as the fused kernels take it (additive, or None)
    and which of them see no key of the piece."""

    piece: Piece
    a: int
    b: int
    bias: Tensor | None
    empty: Tensor | None


def _tiles(part: Part, queries: Tensor, dtype: torch.dtype, cache: dict) -> list[_Tile]:
    """The part's pieces cut into tiles of about SLICE_ELEMENTS query elements; ``queries`` is the part's folded q
    of one slice. Additive masks are made once per call (``cache``) and shared by the tiles and slices that use
    the same one."""
    flat = part.layout == "flat"
    per_item = math.prod(queries.shape) // queries.shape[2 if flat else 1]  # elements of one item (row)
    step = max(1, SLICE_ELEMENTS // max(1, per_item))
    tiles = []
    for piece in part.pieces:
        if piece.keys is not None and piece.keys[0] >= piece.keys[1]:
            continue  # no key: the piece's queries see nothing here
        for a in range(piece.start, piece.stop, step):
            b = min(piece.stop, a + step)
            mask = _piece_mask(piece, a, b)
            if mask is None:
                tiles.append(_Tile(piece, a, b, None, None))
                continue
            key = (id(piece.mask), flat, None if mask is piece.mask else (a - piece.start, b - piece.start))
            if key not in cache:
                bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))
                cache[key] = (bias if flat else bias.unsqueeze(0), ~mask.any(dim=-1))  # the kernel takes 2-D or 4-D
            tiles.append(_Tile(piece, a, b, *cache[key]))
    return tiles


def _slices(B: int, H: int, P: int, D: int) -> list[tuple[slice, slice]]:
    """(batch, heads) slices covering (B, H), each about SLICE_ELEMENTS of a (B, H, P, D) tensor (one head at
    least): whole batch elements when a head is small, groups of heads of one element when it is large."""
    per_head = P * D
    if per_head == 0:
        return [(slice(0, B), slice(0, H))]
    if H * per_head > SLICE_ELEMENTS:
        h = max(1, SLICE_ELEMENTS // per_head)
        return [(slice(b, b + 1), slice(h0, min(H, h0 + h))) for b in range(B) for h0 in range(0, H, h)]
    n = max(1, SLICE_ELEMENTS // (H * per_head))
    return [(slice(b0, min(B, b0 + n)), slice(0, H)) for b0 in range(0, B, n)]


def _sub_grid(grid: Grid, x: Tensor) -> Grid:
    return Grid(x.shape[0], x.shape[1], grid.nb, grid.l)


def _fold_in(out: Tensor, lse: Tensor, o: Tensor, l: Tensor) -> None:
    """Fold a tile's output o (.., n, D) and log-sum-exp l (.., n, 1) into the running out and lse, in place."""
    new = torch.logaddexp(lse, l)
    safe = new.masked_fill(torch.isneginf(new), 0.0)  # no key yet on either side: weights 0, not nan
    out.mul_(torch.exp(lse - safe)).addcmul_(torch.exp(l - safe), o)
    lse.copy_(new)


# A causal square item of n >= CAUSAL_SPLIT queries is computed in rows of s = max(64, n / 4) when the kernel runs on
# one thread. The CPU flash kernel skips no keys of a causal item up to 512 long (its key tiles are the whole item),
# so it computes n x n scores for n^2 / 2; as s x s causal squares on the diagonal and the s-row rectangles below
# them it computes (n / s + 1) / (2 n / s) of those: 62.5% at n / s = 4. One thread, an AVX512 EPYC, tiles of 16
# blocks of 256 x 64: forward+backward 13.3 ms whole, 9.3 ms in rows of 64. With two threads inside the kernel the
# smaller calls parallelize worse and the split lost (11.2 against 9.6 ms), hence one thread only.
CAUSAL_SPLIT = 128


def _calls(piece: Piece, n: int) -> list[tuple[slice, slice, bool]]:
    """The kernel calls of a tile whose items hold n queries: (query rows, key rows, causal) within each item."""
    whole = slice(None)
    if not piece.causal or n < CAUSAL_SPLIT or torch.get_num_threads() > 1:
        return [(whole, whole, piece.causal)]
    s = max(64, n // 4)
    calls = []
    for r0 in range(0, n, s):
        rows = slice(r0, min(n, r0 + s))
        calls.append((rows, rows, True))  # the diagonal square: causal within it
        if r0:
            calls.append((rows, slice(0, r0), False))  # every key before the square
    return calls


def _forward_slice(grid: Grid, parts: list[Part], q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
                   cache: dict) -> None:
    """Combined output and log-sum-exp of a slice (B', H', P, D) of the batch and heads, written into ``out``
    (zeros) and ``lse`` (-inf), (B', H', P, 1)."""
    for p in parts:
        qf, of, lf = (grid.fold(x, p.layout) for x in (q, out, lse))
        kf, vf = _keys(k, grid, p), _keys(v, grid, p)
        for t in _tiles(p, qf, q.dtype, cache):
            pk, pv = (_piece_keys(x, p, t.piece, t.a, t.b) for x in (kf, vf))
            tq, to, tl = (_take(x, p.layout, t.a, t.b) for x in (qf, of, lf))
            for rows, keys, causal in _calls(t.piece, tq.shape[-2]):
                o, l = _FLASH(tq[..., rows, :], pk[..., keys, :], pv[..., keys, :], is_causal=causal,
                              attn_mask=t.bias)
                if t.empty is not None:
                    l = l.masked_fill(t.empty, float("-inf"))  # the kernel reports 0 for a query with no key
                _fold_in(to[..., rows, :], tl[..., rows, :], o, l.unsqueeze(-1))


def _backward_slice(grid: Grid, parts: list[Part], q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
                    grad: Tensor, grads: list[Tensor], cache: dict) -> None:
    """Add the slice's gradients into ``grads`` (views of dq, dk, dv for the slice, zeros at first): each tile's
    flash-attention backward with the combined output and log-sum-exp, straight into the views it came from."""
    dq = grads[0]
    for p in parts:
        qf, of, lf, gf, dqf = (grid.fold(x, p.layout) for x in (q, out, lse, grad, dq))
        kf, vf = _keys(k, grid, p), _keys(v, grid, p)
        gathered = p.layout == "flat" and p.positions is not None
        wide = torch.promote_types(k.dtype, torch.float32)  # a gathered key gathers one term per block: sum wide
        dkf, dvf = ((kf.new_zeros(kf.shape, dtype=wide), vf.new_zeros(vf.shape, dtype=wide)) if gathered else
                    (_keys(grads[1], grid, p), _keys(grads[2], grid, p)))
        for t in _tiles(p, qf, q.dtype, cache):
            pk, pv = (_piece_keys(x, p, t.piece, t.a, t.b) for x in (kf, vf))
            tq, to, tl, tg, tdq = (_take(x, p.layout, t.a, t.b) for x in (qf, of, lf, gf, dqf))
            tdk, tdv = (_piece_keys(x, p, t.piece, t.a, t.b) for x in (dkf, dvf))
            for rows, keys, causal in _calls(t.piece, tq.shape[-2]):
                d_q, d_k, d_v = _FLASH_BACKWARD(tg[..., rows, :], tq[..., rows, :], pk[..., keys, :],
                                                pv[..., keys, :], to[..., rows, :], tl[..., rows, 0], 0.0, causal,
                                                attn_mask=t.bias)
                tdq[..., rows, :].add_(d_q)
                tdk[..., keys, :].add_(d_k)
                tdv[..., keys, :].add_(d_v)
        if gathered:
            grads[1].index_add_(2, p.positions, dkf.to(k.dtype))
            grads[2].index_add_(2, p.positions, dvf.to(v.dtype))


def _wide(x: Tensor) -> Tensor:
    """A slice in float32 (the kernels' compute precision here), or the slice itself when it is float32 or wider."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _store(into: Tensor, wide: Tensor) -> None:
    """Write a slice computed in float32 back into the caller's (narrower) tensor; nothing when it is that tensor."""
    if wide.data_ptr() != into.data_ptr():
        into.copy_(wide)


class _FusedParts(torch.autograd.Function):
    """Strided / fixed attention through the CPU flash kernel, a slice of the batch and heads at a time. A bf16 (or
    fp16) slice is computed in float32 and its result cast back: the kernel's bf16 backward pass is slower at these
    tile sizes even with native bf16 (AMX CPU, B 8, H 8, D 64, strided at L = 8192: forward and backward 2.88 s in
    bf16 against 1.54 in fp32), and the running combination of the tiles keeps float32 precision. The float32
    copies are one slice's per worker thread, about SLICE_ELEMENTS each."""

    @staticmethod
    def forward(ctx, grid: Grid, parts: list[Part], q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        out = q.new_zeros(q.shape)  # (B, H, P, D)
        lse = q.new_full((*q.shape[:3], 1), float("-inf"),
                         dtype=torch.promote_types(q.dtype, torch.float32))  # (B, H, P, 1)
        cache = {}

        def work(b: slice, h: slice) -> None:
            sub = [_wide(x[b, h]) for x in (q, k, v)]
            o = _wide(out[b, h])
            _forward_slice(_sub_grid(grid, sub[0]), parts, *sub, o, lse[b, h], cache)
            _store(out[b, h], o)

        run_slices(work, _slices(*q.shape))
        lse.masked_fill_(torch.isneginf(lse), 0.0)  # no key at all: zero weights everywhere in the backward
        ctx.grid, ctx.parts = grid, parts  # the additive masks are made again in the backward (small: they
        ctx.save_for_backward(q, k, v, out, lse)  # broadcast over the items)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable  # the flash backward has no derivative: say so, not a wrong one
    def backward(ctx, grad: Tensor):
        q, k, v, out, lse = ctx.saved_tensors
        grad = grad.contiguous()
        grads = [q.new_zeros(x.shape) for x in (q, k, v)]  # contiguous: the tiles add into views of them
        cache = {}

        def work(b: slice, h: slice) -> None:
            sub = [_wide(x[b, h]) for x in (q, k, v, out, lse, grad)]
            wide = [_wide(g[b, h]) for g in grads]
            _backward_slice(_sub_grid(ctx.grid, sub[0]), ctx.parts, *sub, wide, cache)
            for g, w in zip(grads, wide):
                _store(g[b, h], w)

        run_slices(work, _slices(*q.shape))
        return None, None, *grads
