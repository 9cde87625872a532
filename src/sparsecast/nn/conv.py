"""A Conv1d with circular padding on (B, L, C) rows, computed as one matrix multiply.

Informer's value embedding and its distilling layers are Conv1d(kernel 3, circular padding 1) over the time axis of
(B, L, C) activations. Through ``nn.Conv1d`` that takes a transpose, a circular pad (a slow copy of a transposed
view) and a channels-first output that the max-pool then reads slowly. Here the k shifted copies of the rows
(``roll``, which is the circular padding) are laid side by side and multiplied by the kernel flattened to
(C_out, k C_in): the same values up to rounding, in the rows' own layout. The distilling layer's forward and
backward pass on an Informer batch (32 x 96 x 512) took 22 against 32 ms in bf16 and 53 against 60 ms in float32
(2 threads, AMX CPU).

Notation: B batch, L length, C_in / C_out channels, k kernel size.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from .autocast import lowered


def circular_conv(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.conv1d`` of x's time axis with circular padding k // 2 and stride 1, for an odd kernel size k:
    out[t] = bias + sum_j weight[:, :, j] @ x[(t + j - k // 2) mod L]. Where k // 2 exceeds L the index wraps more
    than once (``nn.Conv1d`` refuses such a padding); Informer's k = 3 needs L >= 1.

    Shape:
        x: (B, L, C_in); weight: (C_out, C_in, k), an ``nn.Conv1d``'s; returns (B, L, C_out).
    """
    C_out, C_in, k = weight.shape
    if k % 2 == 0:
        raise ValueError(f"circular_conv takes an odd kernel size, got {k}")
    p = k // 2
    (x,) = lowered(x)  # under autocast the linear casts its input anyway: roll and join at half the bytes
    shifted = torch.cat([x.roll(p - j, dims=1) for j in range(k)], dim=-1)  # (B, L, k C_in): x[t + j - p] at j
    return F.linear(shifted, weight.permute(0, 2, 1).reshape(C_out, k * C_in), bias)  # (B, L, C_out)
