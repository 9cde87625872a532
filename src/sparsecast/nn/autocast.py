"""Inputs cast once to autocast's dtype, before the ops that would each cast them again."""

import torch
from torch import Tensor


def lowered(*xs: Tensor) -> tuple[Tensor, ...]:
    """Under autocast, the inputs in its dtype, each distinct tensor cast once (autocast caches the casts of weights,
    not of activations): self-attention's q, k and v projections would each cast the same activations, and
    cross-attention's k and v the encoder's output; a circular convolution rolls and joins its rows at half the bytes
    when they are cast first. Outside autocast, the inputs themselves."""
    device = xs[0].device.type
    if not torch.is_autocast_enabled(device):
        return xs
    dtype, cast = torch.get_autocast_dtype(device), {}
    if torch.compiler.is_compiling():  # id() would guard on the objects and recompile each call; the compiler
        return tuple(x.to(dtype) if x.is_floating_point() else x for x in xs)  # merges repeated casts itself
    for x in xs:
        if id(x) not in cast:
            cast[id(x)] = x.to(dtype) if x.is_floating_point() else x
    return tuple(cast[id(x)] for x in xs)
