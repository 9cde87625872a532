"""Learning-rate schedules: plain functions of the 0-based epoch giving the multiplier of the base rate."""

import math


def type1(epoch: int) -> float:
    """The paper's schedule: halve every epoch after the first (lr, lr/2, lr/4, ...)."""
    return 0.5 ** epoch


def constant(epoch: int) -> float:
    return 1.0


def cosine(epoch: int, total: int = 6) -> float:
    return 0.5 * (1 + math.cos(math.pi * min(epoch, total) / total))


def type3(epoch: int) -> float:
    """PatchTST's per-epoch schedule: the base rate for three epochs, then 0.9 times less every epoch."""
    return 1.0 if epoch < 3 else 0.9 ** (epoch - 2)


SCHEDULES = {"type1": type1, "type3": type3, "constant": constant, "cosine": cosine}
