"""The training loss summed over steps without making the host wait for the device at every step.

Reading a loss (``.item()``, or testing it for NaN in Python) blocks until the device has finished the step: on a
GPU the host then cannot queue the next step's kernels while the current ones run, and a small model spends its
time waiting on launches. ``LossTally`` keeps the steps' losses as tensors and reads them together every ``every``
steps; on the CPU (``every`` = 1) reading is free and each loss is read, and checked, as it comes, before its step
updates the weights.
"""

import math

import torch
from torch import Tensor

GPU_READ_EVERY = 32  # steps between reads on an accelerator


def read_every(device: torch.device) -> int:
    """Steps between reads of the training loss on ``device``: 1 on the CPU, ``GPU_READ_EVERY`` elsewhere."""
    return 1 if torch.device(device).type == "cpu" else GPU_READ_EVERY


class LossTally:
    """Weighted sum and count of training losses (a step's mean loss weighted by its windows, or by 1 per step).

    ``add`` queues a step's loss; every ``every`` steps (and on ``read``) the queued losses are read at once, added
    to ``total`` / ``count`` in float64 as Python numbers, and checked: a non-finite one raises FloatingPointError
    naming its step (with ``every`` > 1 the weights have then taken up to ``every`` - 1 further updates).

    Args:
        total, count: where to start (a resumed epoch's sums).
        every: steps between reads.
        where: text for the error, given the step number (e.g. ``lambda s: f"at epoch 2, step {s}"``).
    """

    def __init__(self, total: float = 0.0, count: int = 0, every: int = 1, where=lambda step: f"at step {step}"):
        self.total, self.count, self.every, self.where = total, count, every, where
        self._queued: list[tuple[Tensor, int, int]] = []  # (loss, weight, step)

    def add(self, loss: Tensor, weight: int, step: int) -> bool:
        """Queue a step's (scalar) loss with its weight (its windows); True when this call read the queue."""
        self._queued.append((loss.detach(), weight, step))
        if len(self._queued) < self.every:
            return False
        self.read()
        return True

    def read(self) -> None:
        """Read every queued loss (one wait for the device) into ``total`` and ``count``."""
        if not self._queued:
            return
        values = torch.stack([loss for loss, _, _ in self._queued]).tolist()
        for value, (_, weight, step) in zip(values, self._queued):
            if not math.isfinite(value):
                self._queued.clear()
                raise FloatingPointError(f"loss became {value} {self.where(step)}")
            self.total += value * weight
            self.count += weight
        self._queued.clear()

    def reset(self) -> None:
        """Start a new sum (what is queued stays queued)."""
        self.total, self.count = 0.0, 0

    @property
    def mean(self) -> float:
        """The mean loss per window of what has been read."""
        return self.total / max(self.count, 1)
