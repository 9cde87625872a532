"""Prediction intervals for any forecaster: quantiles of its own errors on held-out windows, scaled per window.

A forecast's quantile at level a is the point forecast plus ``offset[h, c, a]`` times the window's scale s (the std
of that channel over the lookback, floored): q_a = y_hat + offset * s. Each offset minimizes the quantile (pinball)
loss of its level over the held-out windows, which for a constant has the closed form used here: the empirical
a-quantile of the scaled errors (y - y_hat) / s at that horizon step and channel (with split conformal
prediction's finite-sample correction, which moves each level away from the median by (n + 1) / n for n windows).
So the band needs no second training run, works for every model (baselines and statistical ones included), leaves
the point forecast and its MSE untouched, and widens where the recent history is more volatile. On windows like the
held-out ones, a fraction of about a of the truth falls below q_a.

Notation: N windows, L lookback, P pred_len, C channels, Q quantile levels; all values on the scaled axis.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from ..data.windows import ConcatWindows, SpacedWindows, Windows
from ..training.metrics import QUANTILES, check_levels, pinball_loss
from ..training.trainer import predict

FLOOR = 0.1  # the smallest window scale, as a fraction of the median one (a flat window still gets a band)
# Held-out windows a model without weights (a statistical one, refit on every window) is calibrated on, evenly
# spaced; a neural model's pass over all of them is cheap.
STATISTICAL_WINDOWS = 200
# Intervals need the errors of at least this many non-overlapping horizons: with fewer, every window shares the same
# few truth values, and the quantiles of their errors say little about the next horizon.
MIN_HORIZONS = 5


def fit_intervals(model, train: Windows, val: Windows, levels, batch_size: int = 256, bf16: bool = False,
                  val_forecasts: tuple[np.ndarray, ...] | None = None) -> tuple["Intervals | None", str]:
    """Intervals for ``model`` from held-out windows, and what they were fit on (or why there are none).

    A neural model is calibrated on the validation windows. A model without weights (a statistical one) fits every
    window on that window's lookback alone, so each of its forecasts is out of sample: it is calibrated on the
    training and validation windows (STATISTICAL_WINDOWS of them, evenly spaced; an ensemble with such a member
    samples its validation windows the same way). None when they span fewer than MIN_HORIZONS horizons,
    or when no ``levels`` are asked for. ``val_forecasts``: ``predict_windows`` of every validation window, where
    the caller has them already (a neural model's calibration set), so they are not computed twice."""
    if not levels:
        return None, "no prediction intervals: no quantile levels asked for"
    statistical = next(model.parameters(), None) is None
    held = ConcatWindows([train, val]) if statistical else val
    pred_len = held.batch(torch.zeros(1, dtype=torch.long)).y.shape[1] if len(held) else 1
    horizons = (len(held) + pred_len - 1) / pred_len
    source = "training and validation" if statistical else "validation"
    if horizons < MIN_HORIZONS:
        more = int((MIN_HORIZONS - horizons) * pred_len) + 1
        return None, (f"no prediction intervals: the {source} windows span {horizons:.1f} horizon(s) of {pred_len} "
                      f"steps, and intervals need {MIN_HORIZONS} (about {more} more rows); predict gives point "
                      f"forecasts only")
    if statistical or getattr(model, "refits_per_window", False):  # a model fit per window: a spaced sample
        held = SpacedWindows(held, STATISTICAL_WINDOWS)
    if held is not val or val_forecasts is None:
        val_forecasts = predict_windows(model, held.loader(batch_size), bf16)
    intervals = Intervals.fit(*val_forecasts, levels=levels)
    return intervals, (f"prediction intervals fit on {len(held)} {source} windows (spanning {horizons:.0f} "
                       f"non-overlapping horizons of {pred_len} steps)")


def column_name(column: str, level: float) -> str:
    """The name of a quantile column: ``OT_q10`` for level 0.1 of column OT (``OT_q2.5`` for 0.025)."""
    pct = 100 * level
    return f"{column}_q{round(pct):02d}" if abs(pct - round(pct)) < 1e-9 else f"{column}_q{pct:g}"


def window_scale(history: np.ndarray) -> np.ndarray:
    """The std of each channel over each lookback. Shape: (N, L, C) -> (N, C)."""
    return history.std(axis=1)


@dataclass(frozen=True)
class Intervals:
    """Fitted quantile offsets.

    Attributes:
        levels: the Q quantile levels, increasing.
        offsets: (P, C, Q) the scaled-error quantiles per horizon step and channel (increasing along Q).
        floor: (C,) the smallest window scale applied per channel.
        windows: how many held-out windows they were fit on.
    """

    levels: tuple[float, ...]
    offsets: np.ndarray
    floor: np.ndarray
    windows: int

    @classmethod
    def fit(cls, pred: np.ndarray, truth: np.ndarray, scale: np.ndarray, levels=QUANTILES) -> "Intervals":
        """From held-out forecasts ``pred`` and ``truth`` (N, P, C) and their windows' scales (N, C)."""
        levels = check_levels(levels)
        if len(pred) == 0:
            raise ValueError("no held-out windows to fit prediction intervals on")
        floor = np.maximum(FLOOR * np.median(scale, axis=0), 1e-6)  # (C,)
        errors = (truth - pred) / np.maximum(scale, floor)[:, None, :]  # (N, P, C)
        n = len(errors)  # split-conformal's finite-sample correction: each level moved away from the median by
        adjusted = np.clip(0.5 + (np.asarray(levels) - 0.5) * (n + 1) / n, 0, 1)  # (n + 1) / n
        offsets = np.moveaxis(np.quantile(errors, adjusted, axis=0), 0, -1)  # (P, C, Q)
        return cls(levels, offsets, floor, len(pred))

    def quantiles(self, pred: np.ndarray, scale: np.ndarray, channels=slice(None)) -> np.ndarray:
        """The forecast quantiles of ``channels`` (default all).

        Shape: pred (N, P, C), scale (N, C) -> (N, P, C', Q)."""
        s = np.maximum(scale[:, channels], self.floor[channels])[:, None, :, None]  # (N, 1, C', 1)
        return pred[..., channels, None] + self.offsets[None, :, channels] * s

    def scores(self, pred: np.ndarray, scale: np.ndarray, truth: np.ndarray, chunk_elements: int = 1 << 24) -> dict:
        """``interval_scores`` of these quantiles on (pred, scale, truth) (N, P, C), a chunk of windows at a time: the
        quantiles of every window at once are N * P * C * Q float64 (8 GB for weather's 9,820 test windows of 720
        steps and 21 channels), the scores are means, so chunks weighted by their windows give the same figures."""
        n = len(pred)
        step = max(1, chunk_elements // max(1, pred[0].size * len(self.levels)))
        parts = [(len(pred[a:a + step]), interval_scores(self.quantiles(pred[a:a + step], scale[a:a + step]),
                                                         truth[a:a + step], self.levels))
                 for a in range(0, n, step)]
        return _weighted_mean(parts, n)

    def to_dict(self) -> dict:
        return {"levels": list(self.levels), "offsets": self.offsets.tolist(), "floor": self.floor.tolist(),
                "windows": self.windows}

    @classmethod
    def from_dict(cls, d: dict) -> "Intervals":
        return cls(check_levels(d["levels"]), np.asarray(d["offsets"], dtype=np.float64),
                   np.asarray(d["floor"], dtype=np.float64), int(d["windows"]))


def predict_windows(model, batches: Iterable, bf16: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point forecasts, truth (N, P, C_out) and window scales (N, C_out) of every window the batches serve (the
    forecast channels are the inputs' last C_out)."""
    return predict(model, batches, bf16, extra=lambda b: window_scale(b.x[..., -b.target.shape[-1]:].numpy()))


def interval_scores(q: np.ndarray, truth: np.ndarray, levels: tuple[float, ...]) -> dict:
    """How well quantiles ``q`` (N, P, C, Q) fit ``truth`` (N, P, C): the coverage of each central band (the pair
    of levels a and 1 - a), the fraction of the truth below each level, and the mean pinball loss."""
    below = (truth[..., None] <= q).reshape(-1, len(levels)).mean(axis=0)  # (Q,)
    bands = {}
    for i, lo in enumerate(levels):
        j = next((j for j, hi in enumerate(levels) if abs(hi - (1 - lo)) < 1e-9), None)
        if j is not None and j > i:
            inside = (truth >= q[..., i]) & (truth <= q[..., j])
            bands[f"{lo:g}-{levels[j]:g}"] = {"nominal": round(levels[j] - lo, 10), "coverage": float(inside.mean())}
    return {"coverage": bands, "below": {f"{lv:g}": float(b) for lv, b in zip(levels, below)},
            "pinball": pinball_loss(q, truth, levels)}


def _weighted_mean(parts: list[tuple[int, dict]], total: int):
    """The mean of nested dicts of numbers over parts weighted by their sizes (non-numbers taken from the first)."""
    first = parts[0][1]
    if isinstance(first, dict):
        return {k: _weighted_mean([(w, d[k]) for w, d in parts], total) for k in first}
    if isinstance(first, float) and any(d != first for _, d in parts):
        return float(sum(w * d for w, d in parts) / total)
    return first
