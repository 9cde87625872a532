"""Attention over several disjoint key parts, combined exactly: the engine of the block-sparse kernels.

A sparse pattern is cut into parts, each a dense attention in its own layout of the (padded) sequence: "blocks"
(batch of nb blocks of l queries), "columns" (batch of l columns of nb queries, the sequence reshaped to (nb, l)) or
"flat" (all P queries at once). Each part gives every query an output o_p and a log-sum-exp lse_p over the keys it
may see there; the query's attention over the union of its keys is

    LSE = log sum_p exp(lse_p),    O = sum_p exp(lse_p - LSE) o_p,

which is exactly one softmax over all the query's keys, provided the parts are disjoint (each kernel keeps a key
shared by two halves of a pattern in one part only).

Two backends compute the same function:
- "fused" (CPU, not under export): each part is PyTorch's fused CPU flash-attention kernel, which never stores a
  score matrix. Its backward is the flash-attention backward of each part called with the *combined* O and LSE: with
  them, a part's recomputed probabilities exp(s - LSE) are the query's true weights restricted to that part, and the
  row term rowsum(dO * O) is the combined one, so the parts' gradients add up to the gradient of the whole. Nothing
  of size (queries x keys) is kept between forward and backward: the attention is recomputed in the backward pass.
  A part is a rule for cutting its queries, keys and values out of q, k, v (``Part.select``), applied to a slice
  of the batch and heads at a time (about ``SLICE_ELEMENTS`` per tensor) in the forward pass and again in the
  backward pass: the copies a part makes (a block's neighbours, the gathered summary keys) exist for one slice at a
  time and are never kept, so peak memory stays a few times the size of q rather than growing with the parts.
- "matmul" (any device, ONNX/torch.export): explicit scores per part, one softmax over their concatenation.

Notation: B batch, H heads, P = nb * l padded length, D head dim; a part's tensors are (N, M, n, D) queries and
(N, M, m, D) keys/values with N * M * n = B' * H' * P for the slice (B', H') of the batch and heads it is cut from.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import building_graph

_FLASH = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
_FLASH_BACKWARD = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward
BACKENDS = ("auto", "fused", "matmul")


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


@dataclass(frozen=True)
class Grid:
    """The padded sequence as nb blocks of length l, for B batches and H heads."""

    B: int
    H: int
    nb: int
    l: int

    def fold(self, x: Tensor, layout: str) -> Tensor:
        """(B, H, P, X) -> the layout's (N, M, n, X)."""
        if layout == "flat":
            return x
        x = x.reshape(self.B * self.H, self.nb, self.l, x.shape[-1])  # (B*H, nb, l, X)
        return x if layout == "blocks" else x.transpose(1, 2)  # columns: (B*H, l, nb, X)

    def unfold(self, x: Tensor, layout: str) -> Tensor:
        """The layout's (N, M, n, X) -> (B, H, P, X); inverse of ``fold``."""
        if layout == "columns":
            x = x.transpose(1, 2)  # (B*H, nb, l, X)
        return x.reshape(self.B, self.H, self.nb * self.l, x.shape[-1])


# Elements of one slice of q (and of k, v) that the fused backend handles at a time: 1 MiB in fp32, one head of
# 4,096 x 64. Smaller slices keep a part's copies small (B=1, H=8, D=64, L=8192, fwd+bwd: strided peak 97 MiB with
# 4 MiB slices, 69 MiB with these; fixed 76 -> 64) at no measurable cost in time.
SLICE_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class Part:
    """One dense piece of a sparse pattern, as a rule for cutting it out of the padded q, k, v.

    Args:
        select: ``select(q, k, v, grid)`` with (B', H', P, D) tensors (a slice of the batch and heads, and ``grid``
            for that slice) -> the part's queries (N, M, n, D), every query of the padded sequence once, in
            ``layout``, and the keys and values (N, M, m, D) they may see in this part. Called again in the
            backward pass: whatever it copies is never kept. It must be a pure, differentiable function of its
            inputs (views, slices, concatenations), as the backward pass carries the part's gradients through it.
        mask: boolean, broadcastable to (N, M, n, m): which of those keys each query sees; (n, m) in "flat".
        layout: "flat", "blocks" or "columns" (see ``Grid``).
        chunks: "flat" only, optional: (row_start, row_stop, key_stop) triples covering the rows in order, each saying
            that rows [row_start, row_stop) see no key at or after key_stop. The fused backend then skips those keys
            (a causal pattern computes about half its scores instead of all), and a chunk whose rows see every key
            before its key_stop runs without a mask; the result is the same.
    """

    select: Callable[[Tensor, Tensor, Tensor, Grid], tuple[Tensor, Tensor, Tensor]]
    mask: Tensor
    layout: str
    chunks: tuple[tuple[int, int, int], ...] = ()


def fold_qkv(q: Tensor, k: Tensor, v: Tensor, grid: Grid, layout: str) -> tuple[Tensor, Tensor, Tensor]:
    """A part whose queries and keys share one layout of the sequence: q, k, v folded into it (views; for
    ``Part.select`` as ``partial(fold_qkv, layout=...)``)."""
    return tuple(grid.fold(x, layout) for x in (q, k, v))


def attend_parts(grid: Grid, parts: list[Part], q: Tensor, k: Tensor, v: Tensor, backend: str = "auto") -> Tensor:
    """Softmax attention of every query of q (B, H, P, D) over the union of its keys in ``parts``, with q, k, v all
    padded to the grid's P = nb * l; returns (B, H, P, D).

    A query with no key in any part outputs zeros. ``backend``: "auto" (fused on CPU outside export), "fused" or
    "matmul".
    """
    if backend == "auto":
        backend = "fused" if q.device.type == "cpu" and not building_graph() else "matmul"
    if check_backend(backend) == "matmul":
        return _attend_matmul(grid, parts, q, k, v)
    return _FusedParts.apply(grid, parts, q, k, v)


def _attend_matmul(grid: Grid, parts: list[Part], q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    scores, values = [], []
    for p in parts:
        pq, pk, pv = p.select(q, k, v, grid)
        s = (pq @ pk.transpose(-2, -1) / math.sqrt(pq.shape[-1])).masked_fill(~p.mask, float("-inf"))
        scores.append(grid.unfold(s, p.layout))  # (B, H, P, m)
        values.append(pv)
    scores = torch.cat(scores, dim=-1)  # (B, H, P, sum m)
    empty = torch.isneginf(scores).all(dim=-1, keepdim=True)  # no data-dependent branch: stays exportable
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=-1).masked_fill(empty, 0.0)
    out = 0
    for p, pv, w in zip(parts, values, weights.split([pv.shape[-2] for pv in values], dim=-1)):
        out = out + grid.unfold(grid.fold(w, p.layout) @ pv, p.layout)  # (B, H, P, D)
    return out


def _additive(mask: Tensor, dtype: torch.dtype) -> Tensor:
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))


@dataclass(frozen=True)
class _Masks:
    """A part's masks as the fused kernels take them, made once per call: the additive mask (unchunked), or one per
    chunk, None where the chunk sees every key it is given (no mask at all: a causal fixed summary cut by blocks);
    and which queries see no key of the part."""

    bias: Tensor | list[Tensor | None]
    empty: Tensor


def _masks(parts: list[Part], dtype: torch.dtype) -> list[_Masks]:
    out = []
    for p in parts:
        if p.chunks:
            bias = [None if p.mask[a:b, :m].all() else _additive(p.mask[a:b, :m], dtype) for a, b, m in p.chunks]
        else:
            bias = _additive(p.mask, dtype)
        out.append(_Masks(bias, ~p.mask.any(dim=-1)))
    return out


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


def _forward_slice(grid: Grid, parts: list[Part], masks: list[_Masks], q: Tensor, k: Tensor,
                   v: Tensor) -> tuple[Tensor, Tensor]:
    """Combined output (B', H', P, D) and log-sum-exp (B', H', P, 1) of a slice of the batch and heads."""
    outs, lses = [], []
    for p, mask in zip(parts, masks):
        pq, pk, pv = p.select(q, k, v, grid)
        if p.chunks:
            pieces = [_FLASH(pq[:, :, a:b], pk[:, :, :m], pv[:, :, :m], attn_mask=bias) if m else
                      (pq.new_zeros(*pq.shape[:2], b - a, pq.shape[-1]), pq.new_zeros(*pq.shape[:2], b - a))
                      for (a, b, m), bias in zip(p.chunks, mask.bias)]  # a chunk with no key: zeros
            o, lse = (torch.cat(x, dim=2) for x in zip(*pieces))
        else:
            o, lse = _FLASH(pq, pk, pv, attn_mask=mask.bias)
        lse = lse.masked_fill(mask.empty, float("-inf"))  # (N, M, n): the kernel reports 0 for a query with no key
        outs.append(grid.unfold(o, p.layout))  # (B', H', P, D)
        lses.append(grid.unfold(lse.unsqueeze(-1), p.layout))  # (B', H', P, 1)
    lse = torch.logsumexp(torch.cat(lses, dim=-1), dim=-1, keepdim=True)  # (B', H', P, 1)
    lse = lse.masked_fill(torch.isneginf(lse), 0.0)  # no key at all: zero weights everywhere, output 0
    out = outs[0].mul_(torch.exp(lses[0] - lse))  # (B', H', P, D), in place: one slice-sized buffer
    for o, l in zip(outs[1:], lses[1:]):
        out.addcmul_(torch.exp(l - lse), o)
    return out, lse


def _part_grads(grid: Grid, p: Part, mask: _Masks, selected: tuple[Tensor, Tensor, Tensor], grad: Tensor,
                out: Tensor, lse: Tensor) -> list[Tensor]:
    """Flash-attention backward of one part with the combined output and log-sum-exp: grads of its q, k, v."""
    q, k, v = selected
    g, o, l = (grid.fold(x, p.layout) for x in (grad, out, lse))
    l = l.squeeze(-1)
    if not p.chunks:
        return list(_FLASH_BACKWARD(g, q, k, v, o, l, 0.0, False, attn_mask=mask.bias))
    dq, dk, dv = [], torch.zeros_like(k), torch.zeros_like(v)
    for (a, b, m), bias in zip(p.chunks, mask.bias):
        if not m:
            dq.append(q.new_zeros(*q.shape[:2], b - a, q.shape[-1]))
            continue
        dq_c, dk_c, dv_c = _FLASH_BACKWARD(g[:, :, a:b], q[:, :, a:b], k[:, :, :m], v[:, :, :m], o[:, :, a:b],
                                           l[:, :, a:b], 0.0, False, attn_mask=bias)
        dq.append(dq_c)
        dk[:, :, :m] += dk_c
        dv[:, :, :m] += dv_c
    return [torch.cat(dq, dim=2), dk, dv]


class _FusedParts(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grid: Grid, parts: list[Part], q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        masks = _masks(parts, q.dtype)
        out = q.new_empty(q.shape)  # (B, H, P, D)
        lse = q.new_empty((*q.shape[:3], 1), dtype=torch.promote_types(q.dtype, torch.float32))  # (B, H, P, 1)
        for b, h in _slices(*q.shape):
            sub = [x[b, h] for x in (q, k, v)]
            o, l = _forward_slice(_sub_grid(grid, sub[0]), parts, masks, *sub)
            out[b, h], lse[b, h] = o, l
        ctx.grid, ctx.parts = grid, parts  # the additive masks are made again in the backward: a bool mask is a
        ctx.save_for_backward(q, k, v, out, lse)  # quarter of their size, and every layer keeps its own until then
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable  # the flash backward has no derivative: say so, not a wrong one
    def backward(ctx, grad: Tensor):
        q, k, v, out, lse = ctx.saved_tensors
        grad = grad.contiguous()
        grads = [torch.empty_like(x) for x in (q, k, v)]
        masks = _masks(ctx.parts, q.dtype)
        for b, h in _slices(*q.shape):
            sub = [x[b, h].detach().requires_grad_() for x in (q, k, v)]
            grid = _sub_grid(ctx.grid, sub[0])
            for n, (p, mask) in enumerate(zip(ctx.parts, masks)):  # one part at a time: its grads, then free
                with torch.enable_grad():  # the part's copies again, to carry its gradients back to q, k, v
                    selected = p.select(*sub, grid)
                part_grads = _part_grads(grid, p, mask, selected, grad[b, h], out[b, h], lse[b, h])
                wanted = [(t, d) for t, d in zip(selected, part_grads) if t.requires_grad]
                slice_grads = torch.autograd.grad([t for t, _ in wanted], sub, [d for _, d in wanted],
                                                  allow_unused=True)
                del selected, part_grads, wanted
                for full, d in zip(grads, slice_grads):
                    if n == 0:
                        full[b, h] = 0.0 if d is None else d
                    elif d is not None:
                        full[b, h] += d
        return None, None, *grads
