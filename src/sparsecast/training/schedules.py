"""Learning-rate schedules: plain functions of the 0-based epoch giving the multiplier of the base rate (or the
multiplier and Adam's beta1), and ``onecycle``, set at every step (PatchTST's "TST")."""

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


def patchtst_type3(epoch: int) -> tuple[float, float]:
    """"type3" as PatchTST's code runs it, with Adam's beta1: the OneCycleLR it builds whatever the schedule (and
    never steps outside "TST") leaves the first epoch at 1/25 of the rate and beta1 at 0.95; after each epoch the
    rate for the next is set by type3's rule, which then runs one epoch behind ours (three epochs at the rate,
    then 0.9 times less every epoch)."""
    return (1 / 25 if epoch == 0 else 1.0 if epoch < 4 else 0.9 ** (epoch - 3)), 0.95


def onecycle(step: int, total: int, pct_start: float = 0.3, div_factor: float = 25.0,
             final_div_factor: float = 1e4, betas: tuple[float, float] = (0.85, 0.95)) -> tuple[float, float]:
    """PatchTST's per-step schedule ("TST": torch's OneCycleLR with its defaults) at 0-based ``step`` of ``total``:
    the multiplier of the base rate and Adam's beta1. The rate rises from 1 / ``div_factor`` of the base to the base
    over the first ``pct_start`` of the steps, then falls to 1 / (``div_factor`` x ``final_div_factor``) of it, both
    along half cosines; beta1 moves the other way, from ``betas[1]`` down to ``betas[0]`` and back."""
    def anneal(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)

    peak = pct_start * total - 1  # the step at the top (a float, as torch's)
    low, high = 1 / div_factor, 1 / (div_factor * final_div_factor)
    if 0 < peak and step <= peak:  # (a rise shorter than one step has none)
        pct = step / peak
        return anneal(low, 1.0, pct), anneal(betas[1], betas[0], pct)
    pct = (step - peak) / (total - 1 - peak)
    return anneal(1.0, high, pct), anneal(betas[0], betas[1], pct)


SCHEDULES = {"type1": type1, "type3": type3, "constant": constant, "cosine": cosine, "onecycle": onecycle,
             "patchtst_type3": patchtst_type3}
PER_STEP = {"onecycle"}  # schedules set at every step from the step's place in the run


def unused_settings(lradj: str) -> frozenset[str]:
    """The TrainConfig fields that change nothing under schedule ``lradj``: pct_start shapes a per-step one only."""
    return frozenset() if lradj in PER_STEP else frozenset({"pct_start"})
