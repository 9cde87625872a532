"""Sliding windows over one split, served as ForecastBatch objects.

Notation: N rows, C input channels, C_out forecast channels, T time features.
"""


import numpy as np
import torch

from .batch import ForecastBatch, stack_windows
from .splits import n_windows


class Windows:
    """Something that serves windows by index: ``len`` and ``batch(starts)``; ``loader`` batches them."""

    def loader(self, batch_size: int, shuffle: bool = False, seed: int = 0, rank: int = 0,
               world_size: int = 1) -> "WindowLoader":
        return WindowLoader(self, batch_size, shuffle, seed, rank, world_size)


class WindowSet(Windows):
    """All windows of a split: window i has history rows [i, i + seq_len) and horizon [i + seq_len, + pred_len).

    Args:
        values: (N, C) scaled inputs. targets: (N, C_out) scaled forecast channels. marks: (N, T) time features.
        index: (N,) each row's position on the time grid (``timefeatures.grid_index``); the batches' ``origin``.
    """

    def __init__(self, values: np.ndarray, targets: np.ndarray, marks: np.ndarray, seq_len: int, pred_len: int,
                 index: np.ndarray | None = None):
        self.values = torch.as_tensor(values, dtype=torch.float32)
        self.targets = torch.as_tensor(targets, dtype=torch.float32)
        self.marks = torch.as_tensor(marks, dtype=torch.float32)
        self.index = None if index is None else torch.as_tensor(index, dtype=torch.long)
        self.seq_len, self.pred_len = seq_len, pred_len

    def __len__(self) -> int:
        return n_windows(len(self.values), self.seq_len, self.pred_len)

    def batch(self, starts: torch.Tensor) -> ForecastBatch:
        s, p = self.seq_len, self.pred_len
        return ForecastBatch(x=stack_windows(self.values, starts, s), x_mark=stack_windows(self.marks, starts, s),
                             future_mark=stack_windows(self.marks, starts + s, p),
                             y=stack_windows(self.targets, starts + s, p),
                             origin=None if self.index is None else self.index[starts + s])


class ConcatWindows(Windows):
    """The windows of several series as one set; a window never crosses from one series into the next."""

    def __init__(self, parts: list[WindowSet]):
        self.parts = parts
        self.offsets = torch.tensor([0] + [len(p) for p in parts]).cumsum(0)  # (n_parts + 1,)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def batch(self, starts: torch.Tensor) -> ForecastBatch:
        part = torch.searchsorted(self.offsets, starts, right=True) - 1  # (N,) series of each window
        pieces, order = [], []
        for k in part.unique().tolist():
            chosen = (part == k).nonzero().flatten()
            pieces.append(self.parts[k].batch(starts[chosen] - self.offsets[k]))
            order.append(chosen)
        inverse = torch.cat(order).argsort()  # back to the order of ``starts``

        def joined(field: str) -> torch.Tensor | None:  # absent where a part has none (windows without timestamps)
            values = [getattr(p, field) for p in pieces]
            return None if any(v is None for v in values) else torch.cat(values)[inverse]
        return ForecastBatch(**{f: joined(f) for f in ("x", "x_mark", "future_mark", "y", "origin")})


def spaced_index(total: int, n: int) -> torch.Tensor:
    """The positions of at most ``n`` of ``total`` windows, evenly spaced from the first to the last (all of them
    when there are fewer)."""
    if not total:
        return torch.zeros(0, dtype=torch.long)
    return torch.linspace(0, total - 1, min(n, total)).round().long().unique()


class SpacedWindows(Windows):
    """At most ``n`` windows of a set, evenly spaced from its first to its last (all of them when it has fewer)."""

    def __init__(self, windows: Windows, n: int):
        self.windows = windows
        self.index = spaced_index(len(windows), n)

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, starts: torch.Tensor) -> ForecastBatch:
        return self.windows.batch(self.index[starts])


class WindowLoader:
    """Batches of a WindowSet; every window once per pass (the last batch may be smaller: nothing is dropped).

    With ``shuffle`` the order of pass e is a permutation drawn from a generator seeded with ``seed + e``, so a run is
    repeatable and can resume at any epoch.

    Distributed (``world_size`` > 1): every rank draws the same order and takes its share of each global batch of
    ``batch_size`` windows (windows rank, rank + world_size, ...), so the ranks' averaged gradient is that of the
    global batch. A last global batch smaller than ``world_size`` is skipped, so every rank steps equally often.
    """

    def __init__(self, windows: Windows, batch_size: int, shuffle: bool = False, seed: int = 0,
                 rank: int = 0,
                 world_size: int = 1):
        if batch_size < world_size:
            raise ValueError(f"batch_size ({batch_size}) must be >= the number of processes ({world_size})")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        self.windows, self.batch_size, self.shuffle, self.seed = windows, batch_size, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.windows)
        full, rest = divmod(n, self.batch_size)
        return full + (rest >= self.world_size if self.world_size > 1 else rest > 0)

    def set_epoch(self, epoch: int) -> None:
        """Serve the order of pass ``epoch`` next (for resuming a run)."""
        self.epoch = epoch

    def __iter__(self):
        n = len(self.windows)
        if self.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        else:
            order = torch.arange(n)
        self.epoch += 1
        for start in range(0, n, self.batch_size):
            batch = order[start:start + self.batch_size]
            if self.world_size > 1:
                if len(batch) < self.world_size:
                    return
                batch = batch[self.rank::self.world_size]
            yield self.windows.batch(batch)
