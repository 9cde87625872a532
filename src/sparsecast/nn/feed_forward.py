"""The position-wise feed-forward block, computed a chunk of rows at a time where its width makes it memory-bound.

Notation: N rows (batch x length), E model width, F feed-forward width.

A patch model over thousands of series (E 16, F 128: PatchTST's small setting, LongPatch's) spends much of a CPU
training step moving the (N, F) hidden activations through memory: fc1's output, the activation, dropout's product
and each of their gradients are one pass over N x F floats that do not fit in cache, for a few FLOPs per element.
Here fc1 -> activation -> dropout -> fc2 runs on a chunk of rows whose hidden layer stays in cache; the backward pass
keeps only the input and the dropout mask and recomputes a chunk's hidden layer. The values are the plain block's up
to the rounding of the matrix multiplies, with the same dropout masks from the same random stream. Wide blocks
(Informer's E 512, F 2048) are bound by their matrix multiplies and keep the plain path: recomputing fc1 would cost
them FLOPs and save little traffic.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from ..attention.base import building_graph
from .dropout import Dropout, keep_mask, packs

ACTIVATIONS = ("gelu", "relu")
CHUNK_MAX_WIDTH = 64  # d_model up to which the CPU block runs in chunks (LongPatch's and PatchTST-small's 16)
CHUNK_ELEMENTS = 1 << 18  # hidden elements per chunk: 1 MiB of float32, within a core's L2 cache


def _hidden(x: Tensor, w1: Tensor, b1: Tensor, gelu: bool, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """fc1's output h and the dropped activation of one chunk, both (n, F); ``mask`` is keep x scale (or None)."""
    h = F.linear(x, w1, b1)  # (n, F)
    a = F.gelu(h) if gelu else F.relu(h)
    # x * (keep * scale) is x * keep * scale exactly (keep is 0 or 1): Dropout's values
    return h, a if mask is None else a.mul_(mask)


def _chunk_mask(keep: Tensor | None, a: int, rows: int, scale: float, dtype: torch.dtype) -> Tensor | None:
    """keep x scale for rows a .. a + rows, in ``dtype``: one conversion of the bool mask per chunk."""
    return None if keep is None else keep[a:a + rows].to(dtype).mul_(scale)


class _ChunkedFeedForward(torch.autograd.Function):
    """fc2(dropout(act(fc1(x)))) over (N, E) rows, ``rows`` at a time; only x and the mask are saved."""

    @staticmethod
    def forward(ctx, x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, keep: Tensor | None, scale: float,
                gelu: bool, rows: int) -> Tensor:
        out = x.new_empty(x.shape[0], w2.shape[0])  # (N, E)
        for a in range(0, x.shape[0], rows):
            act = _hidden(x[a:a + rows], w1, b1, gelu, _chunk_mask(keep, a, rows, scale, x.dtype))[1]  # (n, F)
            torch.addmm(b2, act, w2.T, out=out[a:a + rows])
        ctx.save_for_backward(x, w1, b1, w2, keep)
        ctx.scale, ctx.gelu, ctx.rows = scale, gelu, rows
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        x, w1, b1, w2, keep = ctx.saved_tensors
        scale, rows = ctx.scale, ctx.rows
        grad = grad.contiguous()
        gx = torch.empty_like(x) if ctx.needs_input_grad[0] else None
        gw1, gb1, gw2, gb2 = (torch.zeros_like(t) for t in (w1, b1, w2, w2[:, 0]))
        for a in range(0, x.shape[0], rows):
            xc, gc = x[a:a + rows], grad[a:a + rows]  # (n, E)
            mask = _chunk_mask(keep, a, rows, scale, x.dtype)  # (n, F)
            h, act = _hidden(xc, w1, b1, ctx.gelu, mask)  # (n, F)
            gw2.addmm_(gc.T, act)
            gb2 += gc.sum(0)
            ga = gc @ w2  # (n, F): the gradient at the dropped activation
            if mask is not None:
                ga = ga.mul_(mask)
            gh = torch.ops.aten.gelu_backward(ga, h) if ctx.gelu else ga.mul_(h > 0)  # (n, F)
            gw1.addmm_(gh.T, xc)
            gb1 += gh.sum(0)
            if gx is not None:
                torch.mm(gh, w1, out=gx[a:a + rows])
        return gx, gw1, gb1, gw2, gb2, None, None, None, None


class FeedForward(nn.Module):
    """Position-wise E -> F -> E (the paper's Conv1d of kernel 1, written as Linear), with dropout after the
    activation and after fc2.

    On the CPU, in float32 or float64 without autocast, outside export and with ``d_model <= CHUNK_MAX_WIDTH``, the
    block runs in chunks of rows (see the module's docstring); elsewhere it is the plain sequence of modules. Both
    draw the same dropout masks from the same random stream and give the same values up to rounding.

    Shape:
        x: (..., E); returns (..., E).
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float, activation: str):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.dropout = Dropout(dropout)
        self.gelu = activation == "gelu"

    def chunked(self, x: Tensor) -> bool:
        """Whether ``x`` goes through the chunked CPU block."""
        p = self.dropout.p if self.training else 0.0
        return (x.device.type == "cpu" and self.fc1.in_features <= CHUNK_MAX_WIDTH and x.dtype in (torch.float32,
                torch.float64) and not torch.is_autocast_enabled("cpu") and (p == 0 or packs(p))
                and not building_graph())  # a graph would bake the chunk loop's row counts in

    def forward(self, x: Tensor) -> Tensor:
        if not self.chunked(x):
            h = self.fc1(x)
            return self.dropout(self.fc2(self.dropout(F.gelu(h) if self.gelu else F.relu(h))))
        E, F_ = self.fc1.in_features, self.fc1.out_features
        rows = x.reshape(-1, E)  # (N, E)
        keep, scale = None, 1.0
        if self.training and self.dropout.p > 0:
            keep, scale = keep_mask(torch.Size([rows.shape[0], F_]), self.dropout.p, x.device)  # (N, F)
        out = _ChunkedFeedForward.apply(rows.contiguous(), self.fc1.weight, self.fc1.bias, self.fc2.weight,
                                        self.fc2.bias, keep, scale, self.gelu, max(1, CHUNK_ELEMENTS // F_))
        return self.dropout(out.view(x.shape))  # (..., E)
