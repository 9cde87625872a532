"""Helpers shared by the block-structured sparse kernels (strided, fixed).

The sequence is cut into nb = ceil(L / l) blocks of length l (zero-padded at the end). A query's keys are gathered
into a few dense "parts" (``attention.parts``), each a batch of small dense attentions, combined by one softmax.

Notation: B batch, H heads, L length, D head dim, l block length, nb number of blocks, P = nb * l padded length.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .parts import Part, Piece


def pad_blocks(x: Tensor, l: int) -> Tensor:
    """(B, H, L, D) -> (B, H, P, D), zero-padded at the end to P = nb * l (x itself when L is a multiple of l)."""
    L = x.shape[2]
    nb = math.ceil(L / l)
    return x if nb * l == L else F.pad(x, (0, 0, 0, nb * l - L))


def own_block_part(nb: int, l: int, L: int, causal: bool, device=None) -> Part:
    """Every block of l queries against its own keys: causal within the block, or all of them, the last block's
    padding excepted. Views of q, k, v; the one mask is (1, 1, l)."""
    if causal:  # a padding key is seen by padding queries only
        return Part("blocks", (Piece(0, nb, causal=True),))
    rem = L - (nb - 1) * l  # real positions in the last block
    if rem == l:
        return Part("blocks", (Piece(0, nb),))
    real = (torch.arange(l, device=device) < rem).view(1, 1, l)
    return Part("blocks", tuple(p for p in (Piece(0, nb - 1), Piece(nb - 1, nb, real)) if p.stop > p.start))


def auto_stride(L: int, c: int = 1) -> int:
    """Default block length: the power of two nearest sqrt(c * L) (geometrically).

    sqrt(L) balances a strided query's local and long-range keys (about 2l and L / l); sqrt(c L) balances a fixed
    query's block and summary keys (l and c L / l). A power of two makes blocks tile the usual power-of-two lengths
    without padding.
    """
    return 1 << max(0, round(math.log2(max(1, c * L)) / 2))
