"""Helpers shared by the block-structured sparse kernels (strided, fixed).

The sequence is cut into nb = ceil(L / l) blocks of length l (zero-padded at the end). A query's keys are gathered
into a few dense "parts" (``attention.parts``), each a batch of small dense attentions, combined by one softmax.

Notation: B batch, H heads, L length, D head dim, l block length, nb number of blocks, P = nb * l padded length.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def pad_blocks(x: Tensor, l: int) -> Tensor:
    """(B, H, L, D) -> (B, H, P, D), zero-padded at the end to P = nb * l (x itself when L is a multiple of l)."""
    L = x.shape[2]
    nb = math.ceil(L / l)
    return x if nb * l == L else F.pad(x, (0, 0, 0, nb * l - L))


def shift_blocks(x: Tensor, offset: int) -> Tensor:
    """Block b of the result is block b + offset of ``x`` (zeros where that block does not exist). x: (B, H, nb, ...)."""
    if offset == 0:
        return x
    nb = x.shape[2]
    if abs(offset) >= nb:
        return torch.zeros_like(x)
    zeros = torch.zeros_like(x[:, :, : abs(offset)])
    if offset > 0:
        return torch.cat([x[:, :, offset:], zeros], dim=2)
    return torch.cat([zeros, x[:, :, :offset]], dim=2)


def neighbour_blocks(x: Tensor, offsets: tuple[int, ...]) -> Tensor:
    """Concatenate blocks b + o for o in offsets: (B, H, nb, l, D) -> (B, H, nb, len(offsets) * l, D)."""
    return torch.cat([shift_blocks(x, o) for o in offsets], dim=3)


def neighbour_positions(nb: int, l: int, offsets: tuple[int, ...], device=None) -> Tensor:
    """Key positions matching ``neighbour_blocks``: (nb, len(offsets) * l), out-of-range blocks give -1."""
    b = torch.arange(nb, device=device).unsqueeze(1)  # (nb, 1)
    t = torch.arange(l, device=device)
    pos = torch.cat([(b + o) * l + t for o in offsets], dim=1)  # (nb, n*l)
    in_range = torch.cat([((b + o >= 0) & (b + o < nb)).expand(nb, l) for o in offsets], dim=1)
    return torch.where(in_range, pos, torch.full_like(pos, -1))


def query_positions(nb: int, l: int, device=None) -> Tensor:
    """Position of query (b, r): (nb, l, 1)."""
    return torch.arange(nb * l, device=device).view(nb, l, 1)





def auto_stride(L: int, c: int = 1) -> int:
    """Default block length: the power of two nearest sqrt(c * L) (geometrically).

    sqrt(L) balances a strided query's local and long-range keys (about 2l and L / l); sqrt(c L) balances a fixed
    query's block and summary keys (l and c L / l). A power of two makes blocks tile the usual power-of-two lengths
    without padding.
    """
    return 1 << max(0, round(math.log2(max(1, c * L)) / 2))
