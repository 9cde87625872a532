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
- "matmul" (any device, ONNX/torch.export): explicit scores per part, one softmax over their concatenation.

Notation: B batch, H heads, P = nb * l padded length, D head dim; a part's tensors are (N, M, n, D) queries and
(N, M, m, D) keys/values with N * M * n = B * H * P.
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor

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


@dataclass(frozen=True)
class Part:
    """One dense piece of a sparse pattern.

    Args:
        q: (N, M, n, D) queries in ``layout`` (every query of the padded sequence once).
        k, v: (N, M, m, D) the keys and values those queries may see in this part.
        mask: boolean, broadcastable to (N, M, n, m): which of those keys each query sees; (n, m) in "flat".
        layout: "flat", "blocks" or "columns" (see ``Grid``).
        chunks: "flat" only, optional: (row_start, row_stop, key_stop) triples covering the rows in order, each saying
            that rows [row_start, row_stop) see no key at or after key_stop. The fused backend then skips those keys
            (a causal pattern computes about half its scores instead of all); the result is the same.
    """

    q: Tensor
    k: Tensor
    v: Tensor
    mask: Tensor
    layout: str
    chunks: tuple[tuple[int, int, int], ...] = ()


def attend_parts(grid: Grid, parts: list[Part], backend: str = "auto") -> Tensor:
    """Softmax attention of every query over the union of its keys in ``parts``; returns (B, H, P, D).

    A query with no key in any part outputs zeros. ``backend``: "auto" (fused on CPU outside export), "fused" or
    "matmul".
    """
    if backend == "auto":
        exporting = torch.compiler.is_compiling() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
        backend = "fused" if parts[0].q.device.type == "cpu" and not exporting else "matmul"
    if check_backend(backend) == "matmul":
        return _attend_matmul(grid, parts)
    tensors = [t for p in parts for t in (p.q, p.k, p.v)]
    return _FusedParts.apply(grid, [(p.mask, p.layout, p.chunks) for p in parts], *tensors)


def _attend_matmul(grid: Grid, parts: list[Part]) -> Tensor:
    scores = []
    for p in parts:
        s = (p.q @ p.k.transpose(-2, -1) / math.sqrt(p.q.shape[-1])).masked_fill(~p.mask, float("-inf"))
        scores.append(grid.unfold(s, p.layout))  # (B, H, P, m)
    scores = torch.cat(scores, dim=-1)  # (B, H, P, sum m)
    empty = torch.isneginf(scores).all(dim=-1, keepdim=True)  # no data-dependent branch: stays exportable
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=-1).masked_fill(empty, 0.0)
    out = 0
    for p, w in zip(parts, weights.split([p.k.shape[-2] for p in parts], dim=-1)):
        out = out + grid.unfold(grid.fold(w, p.layout) @ p.v, p.layout)  # (B, H, P, D)
    return out


def _additive(mask: Tensor, dtype: torch.dtype) -> Tensor:
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))


class _FusedParts(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grid: Grid, specs: list, *tensors: Tensor) -> Tensor:
        biases = [_additive(mask, tensors[0].dtype) for mask, _, _ in specs]
        outs, lses = [], []
        for (mask, layout, chunks), bias, i in zip(specs, biases, range(0, len(tensors), 3)):
            q, k, v = tensors[i: i + 3]
            pieces = [_FLASH(q[:, :, a:b], k[:, :, :m], v[:, :, :m], attn_mask=bias[a:b, :m]) for a, b, m in chunks]
            o, lse = (torch.cat(x, dim=2) for x in zip(*pieces)) if chunks else _FLASH(q, k, v, attn_mask=bias)
            empty = ~mask.any(dim=-1)  # the kernel reports lse = 0 for a query that sees no key of this part
            lse = lse.masked_fill(empty, float("-inf"))  # (N, M, n)
            outs.append(grid.unfold(o, layout))  # (B, H, P, D)
            lses.append(grid.unfold(lse.unsqueeze(-1), layout))  # (B, H, P, 1)
        lse = torch.logsumexp(torch.cat(lses, dim=-1), dim=-1, keepdim=True)  # (B, H, P, 1)
        lse = lse.masked_fill(torch.isneginf(lse), 0.0)  # no key at all: zero weights everywhere, output 0
        out = sum(torch.exp(l - lse) * o for o, l in zip(outs, lses)).to(tensors[0].dtype)  # (B, H, P, D)
        ctx.grid, ctx.specs, ctx.biases = grid, [(layout, chunks) for _, layout, chunks in specs], biases
        ctx.save_for_backward(out, lse, *tensors)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        out, lse, *tensors = ctx.saved_tensors
        grid, grads, grad = ctx.grid, [], grad.contiguous()
        for (layout, chunks), bias, i in zip(ctx.specs, ctx.biases, range(0, len(tensors), 3)):
            q, k, v = tensors[i: i + 3]
            g, o, l = (grid.fold(x, layout) for x in (grad, out, lse))
            l = l.squeeze(-1)
            if not chunks:
                grads += _FLASH_BACKWARD(g, q, k, v, o, l, 0.0, False, attn_mask=bias)
                continue
            dq, dk, dv = [], torch.zeros_like(k), torch.zeros_like(v)
            for a, b, m in chunks:
                dq_c, dk_c, dv_c = _FLASH_BACKWARD(g[:, :, a:b], q[:, :, a:b], k[:, :, :m], v[:, :, :m],
                                                   o[:, :, a:b], l[:, :, a:b], 0.0, False, attn_mask=bias[a:b, :m])
                dq.append(dq_c)
                dk[:, :, :m] += dk_c
                dv[:, :, :m] += dv_c
            grads += [torch.cat(dq, dim=2), dk, dv]
        return None, None, *grads
