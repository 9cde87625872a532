"""Helpers shared by the block-structured sparse kernels (strided, fixed).

The sequence is cut into nb = ceil(L / l) blocks of length l (zero-padded at the end). A query's keys are gathered
into a few dense "parts", each a batch of small matmuls; the parts' scores are concatenated along the key axis and
normalised by one softmax, so a query's weights over all its keys sum to one, exactly as in dense masked attention.
The parts are disjoint (a key shared by two halves of a pattern is kept in one part only), so nothing is counted twice.

Notation: B batch, H heads, L length, D head dim, l block length, nb number of blocks, P = nb * l padded length.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def to_blocks(x: Tensor, l: int) -> Tensor:
    """(B, H, L, D) -> (B, H, nb, l, D), zero-padding the end."""
    B, H, L, D = x.shape
    nb = math.ceil(L / l)
    x = F.pad(x, (0, 0, 0, nb * l - L))  # (B, H, P, D)
    return x.view(B, H, nb, l, D)


def from_blocks(x: Tensor, L: int) -> Tensor:
    """(B, H, nb, l, D) -> (B, H, L, D), dropping the padding."""
    B, H, nb, l, D = x.shape
    return x.reshape(B, H, nb * l, D)[:, :, :L]


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


def masked_scores(q: Tensor, k: Tensor, mask: Tensor) -> Tensor:
    """q k^T / sqrt(D) with masked-out entries at -inf. q: (..., n, D), k: (..., m, D), mask: broadcast to (..., n, m)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.masked_fill(~mask, float("-inf"))


def safe_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last axis; a row whose entries are all -inf (a query with no key) gets all-zero weights."""
    empty = torch.isneginf(scores).all(dim=-1, keepdim=True)  # no data-dependent branch: the kernels stay exportable
    return torch.softmax(scores.masked_fill(empty, 0.0), dim=-1).masked_fill(empty, 0.0)


def joint_softmax(parts: list[Tensor]) -> list[Tensor]:
    """Softmax over the concatenated last axes of several score tensors; returns the weights split back per part."""
    if len(parts) == 1:
        return [safe_softmax(parts[0])]
    sizes = [p.shape[-1] for p in parts]
    return list(safe_softmax(torch.cat(parts, dim=-1)).split(sizes, dim=-1))


def auto_stride(L: int) -> int:
    """Default block length l = ceil(sqrt(L)), which makes both the local and the long-range parts O(L sqrt(L))."""
    return max(1, math.ceil(math.sqrt(L)))
