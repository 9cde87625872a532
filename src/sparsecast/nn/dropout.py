"""Dropout with cheaper random draws on the CPU.

On the CPU, ``torch.nn.Dropout`` draws one Bernoulli sample per element, and drawing them was the largest cost of a
training step that is not a matrix multiply: 27% of a LongPatch step and 20% of an Informer step under bf16
(benchmarks/results/train_speed_profile.md). PyTorch's CPU generator is serial, so the draws are what to save.
Two ways, by the drop probability p:

- p <= ``SPARSE_MAX`` (Informer's 0.05): only the dropped positions are drawn. The gaps between
  them are geometric, drawn by inversion, one uniform float64 per dropped element (p x n draws, not n), so each
  element is still dropped independently with probability exactly p. The output is the input scaled by 1 / (1 - p)
  with the dropped positions zeroed, and only those positions are kept for the backward pass. On an Informer
  hidden layer (32 x 96 x 2048) this is 3.2x the packed mask's forward and backward, in bf16 and in float32.
- otherwise: one 64-bit random word gives four 16-bit lanes and an element is kept when its lane is at or above
  ``round(p * 2^16)``: four elements per draw and one comparison each. The drop probability is then ``p`` rounded
  to a multiple of 2^-16, and the kept elements are scaled by the inverse of the rounded keep probability, so the
  output's expectation is still the input.

On other devices the native fused kernel is used; inside torch.compile, tracing or export, the packed mask.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..attention.base import building_graph

LANE_BITS = 16
LANES = 1 << LANE_BITS
SPARSE_MAX = 0.1  # drop probabilities up to which the dropped positions are drawn (2x the packed mask at 0.1)


def sparse(p: float) -> bool:
    """Whether a CPU dropout of probability ``p`` draws its dropped positions rather than a mask: not while a graph
    is recorded (it would bake in the drop count; the packed mask is drawn there)."""
    return 0 < p <= SPARSE_MAX and not building_graph()


def packs(p: float) -> bool:
    """Whether a CPU dropout of probability ``p`` draws one of this module's masks (positions or packed lanes): not
    where p rounds to 0 or 1 in 2^-16 steps and positions are not drawn (there the native kernel runs)."""
    return sparse(p) or 0 < round(p * LANES) < LANES


def drop_positions(n: int, p: float, device: torch.device | str = "cpu", draws: int | None = None) -> Tensor:
    """The sorted flat indices of the dropped elements among ``n``, each dropped independently with probability p.

    A Bernoulli(p) sequence's gaps between successes are geometric: gap = floor(log(1 - u) / log(1 - p)) for u
    uniform in [0, 1) has P(gap >= k) = (1 - p)^k. Enough gaps for n elements are drawn at once (the mean plus six
    standard deviations, or ``draws`` at a time), more in the rare case they fall short.
    """
    if draws is None:
        mean = n * p
        draws = int(mean + 6 * math.sqrt(mean * (1 - p)) + 16)
    log_keep = math.log1p(-p)
    pieces, start = [torch.empty(0, dtype=torch.float64, device=device)], 0
    while start < n:
        u = torch.rand(draws, dtype=torch.float64, device=device)
        gaps = torch.floor(torch.log1p(-u) / log_keep)  # kept elements before each drop
        pos = gaps.add_(1).cumsum_(0).add_(start - 1)  # (draws,) ascending
        pieces.append(pos)
        start = int(pos[-1].item()) + 1
    pos = torch.cat(pieces)
    return pos[:int(torch.searchsorted(pos, float(n)))].long()


def keep_mask(shape: torch.Size, p: float, device: torch.device | str = "cpu") -> tuple[Tensor, float]:
    """A bool mask of ``shape`` keeping each element with probability 1 - p (p exact up to ``SPARSE_MAX``, else
    rounded to a multiple of 2^-16), and the scale 1 / (keep probability) for the kept elements. It draws from the
    random stream as ``dropout`` does: the same seed gives the same mask."""
    n = shape.numel()
    if sparse(p):
        keep = torch.ones(n, dtype=torch.bool, device=device)
        return keep.index_fill_(0, drop_positions(n, p, device), False).view(shape), 1 / (1 - p)
    drop = round(p * LANES)
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-2 ** 63, None)  # every 64-bit word
    lanes = words.view(torch.int16)[:n].view(shape)  # uniform over [-2^15, 2^15)
    return lanes >= drop - LANES // 2, LANES / (LANES - drop)


class _DroppedPositions(torch.autograd.Function):
    """x * scale with the flat positions ``drop`` zeroed; the gradient the same way (only the positions are saved)."""

    @staticmethod
    def forward(ctx, x: Tensor, drop: Tensor, scale: float) -> Tensor:
        ctx.save_for_backward(drop)
        ctx.scale = scale
        out = x.mul(scale).contiguous()  # flat positions index the logical order
        out.view(-1).index_fill_(0, drop, 0)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        (drop,) = ctx.saved_tensors
        out = grad.mul(ctx.scale).contiguous()
        out.view(-1).index_fill_(0, drop, 0)
        return out, None, None


def _masked_scale(x: Tensor, keep: Tensor, scale: float) -> Tensor:
    """x * keep * scale in one pass (``addcmul`` onto a zero scalar): the values of ``x.mul(keep).mul_(scale)``,
    bit for bit but for the sign of zeros, 1.1-1.4x faster on a CPU (float32 and bf16, one thread)."""
    return torch.addcmul(x.new_zeros(()), x, keep, value=scale)


class _MaskedScale(torch.autograd.Function):
    """x * keep * scale; the gradient is masked and scaled the same way (only the bool mask is saved)."""

    @staticmethod
    def forward(ctx, x: Tensor, keep: Tensor, scale: float) -> Tensor:
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return _masked_scale(x, keep, scale)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (keep,) = ctx.saved_tensors
        return _masked_scale(grad, keep, ctx.scale), None, None


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` (above ``SPARSE_MAX``, rounded to a multiple of 2^-16 on the CPU)
    and scale the rest by the inverse of the keep probability, in training only."""
    if not training or p == 0:
        return x
    if x.device.type != "cpu" or not packs(p):
        return F.dropout(x, p, training)
    if sparse(p):
        return _DroppedPositions.apply(x, drop_positions(x.numel(), p, x.device), 1 / (1 - p))
    keep, scale = keep_mask(x.shape, p, x.device)
    return _MaskedScale.apply(x, keep, scale)


class Dropout(nn.Module):
    """``torch.nn.Dropout`` (without ``inplace``) with the cheaper CPU mask of this module, same expectation.

    Shape:
        x: any shape; returns the same shape.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)
