"""Dropout with a cheaper mask on the CPU.

On the CPU, ``torch.nn.Dropout`` draws one Bernoulli sample per element, and drawing them was the largest cost of a
training step that is not a matrix multiply: 27% of a LongPatch step and 20% of an Informer step under bf16
(benchmarks/results/train_speed_profile.md). Here one 64-bit random word gives four 16-bit lanes and an element is
kept when its lane is at or above ``round(p * 2^16)``: four elements per draw and one comparison each. The drop
probability is then ``p`` rounded to a multiple of 2^-16, and the kept elements are scaled by the inverse of the
rounded keep probability, so the output's expectation is still the input. On other devices the native fused kernel
is used.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LANE_BITS = 16
LANES = 1 << LANE_BITS


def packs(p: float) -> bool:
    """Whether a CPU dropout of probability ``p`` draws the packed mask: not where p rounds to 0 or 1 in 2^-16 steps
    (there the native kernel runs)."""
    return 0 < round(p * LANES) < LANES


def keep_mask(shape: torch.Size, p: float, device: torch.device | str = "cpu") -> tuple[Tensor, float]:
    """A bool mask of ``shape`` keeping each element with probability 1 - p (p rounded to a multiple of 2^-16), and
    the scale 1 / (keep probability) for the kept elements."""
    drop = round(p * LANES)
    n = shape.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-2 ** 63, None)  # every 64-bit word
    lanes = words.view(torch.int16)[:n].view(shape)  # uniform over [-2^15, 2^15)
    return lanes >= drop - LANES // 2, LANES / (LANES - drop)


class _MaskedScale(torch.autograd.Function):
    """x * keep * scale; the gradient is masked and scaled the same way (only the bool mask is saved)."""

    @staticmethod
    def forward(ctx, x: Tensor, keep: Tensor, scale: float) -> Tensor:
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return x.mul(keep).mul_(scale)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (keep,) = ctx.saved_tensors
        return grad.mul(keep).mul_(ctx.scale), None, None


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` (rounded to a multiple of 2^-16 on the CPU) and scale the rest by the
    inverse of the keep probability, in training only."""
    if not training or p == 0:
        return x
    if x.device.type != "cpu" or not packs(p):
        return F.dropout(x, p, training)
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
