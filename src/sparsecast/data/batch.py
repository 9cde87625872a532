"""Named batches of forecasting windows.

Notation: B batch, C input channels, C_out forecast channels, T time features.
"""

from dataclasses import dataclass, fields

import torch
from torch import Tensor


@dataclass
class ForecastBatch:
    """One batch of windows.

    Attributes:
        x: (B, seq_len, C) scaled history. x_mark: (B, seq_len, T) its time features.
        future_mark: (B, pred_len, T) time features of the horizon.
        y: (B, pred_len, C_out) scaled truth of the horizon (absent when forecasting the real future).
        origin: (B,) int64 position of the first horizon step on the series' time grid
            (``timefeatures.grid_index``), from which a model reads the phase of the season it forecasts; absent
            where the windows have no timestamps.
        scale: (B, C_out) the scale by which an error of each series counts in the loss, where a wrapper changed
            it (RevIN restores a forecast by multiplying it by the window's std); read by closed-form fits.
    """

    x: Tensor
    x_mark: Tensor
    future_mark: Tensor
    y: Tensor | None = None
    origin: Tensor | None = None
    scale: Tensor | None = None

    def inputs(self) -> dict[str, Tensor | None]:
        """The model's keyword arguments."""
        return {"x": self.x, "x_mark": self.x_mark, "future_mark": self.future_mark, "origin": self.origin}

    @property
    def target(self) -> Tensor:
        return self.y

    def to(self, device) -> "ForecastBatch":
        return ForecastBatch(**{f.name: None if (t := getattr(self, f.name)) is None else moved(t, device)
                                for f in fields(self)})

    def __len__(self) -> int:
        return self.x.shape[0]


def moved(t: Tensor, device) -> Tensor:
    """``t`` on ``device``. From the CPU to a GPU through pinned memory, without blocking: a copy from ordinary memory
    makes the host wait for the GPU to finish its queued work, once per batch, and the next step's kernels would
    not be queued while the current ones run."""
    if torch.device(device).type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def stack_windows(series: Tensor, starts: Tensor, length: int) -> Tensor:
    """Rows [s, s + length) of ``series`` (N, F) for each start s: (len(starts), length, F), by one gather."""
    return series[starts.unsqueeze(1) + torch.arange(length)]
