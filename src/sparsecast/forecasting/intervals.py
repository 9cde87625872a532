"""Prediction intervals for any forecaster: quantiles of its own errors on held-out windows, scaled per window.

A forecast's quantile at level a is the point forecast plus ``offset[h, c, a]`` times the window's scale s (the
square root of that channel's std over the lookback, floored at half its mean over the held-out windows):
q_a = y_hat + offset * s. Each offset minimizes the quantile (pinball)
loss of its level over the held-out windows, which for a constant has the closed form used here: the empirical
a-quantile of the scaled errors (y - y_hat) / s at that horizon step and channel (with split conformal
prediction's finite-sample correction, which moves each level away from the median by (n + 1) / n, n the
non-overlapping horizons the windows span: 5 horizons of validation widen the 10-90% band to the 2-98% quantiles of
the errors, 30 horizons to the 8.7-91.3% ones).
So the band needs no second training run, works for every model (baselines and statistical ones included), leaves
the point forecast and its MSE untouched, and widens where the recent history is more volatile. On windows like the
held-out ones, a fraction of about a of the truth falls below q_a.

Why the square root and the mean (benchmarks/results/intervals, chosen on validation windows alone): errors grow
with the lookback's volatility, but less than in proportion; and on an intermittent channel (rain, sparse demand)
most lookbacks are flat, so a floor taken of the median std is zero and the band of the other windows blew up (166
normalized units wide on weather's rain, where the square root floored at the mean gives a pinball loss 63x lower).

Notation: N windows, L lookback, P pred_len, C channels, Q quantile levels; all values on the scaled axis.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from ..data.windows import ConcatWindows, SpacedWindows, Windows
from ..training.metrics import QUANTILES, check_levels, pinball_loss
from ..training.trainer import EVAL_BATCH_SIZE, predict

FLOOR = 0.5  # the smallest window scale, as a share of the mean one (a flat window still gets a band)
FLOOR_OF = np.mean  # the calibration windows' statistic of the scale the floor is a share of
POWER = 0.5  # the band's width follows the square root of the window's std (benchmarks/results/intervals)
# Held-out windows a model without weights (a statistical one, refit on every window) is calibrated on, evenly
# spaced; a neural model's pass over all of them is cheap.
STATISTICAL_WINDOWS = 200
# Intervals need the errors of at least this many non-overlapping horizons: with fewer, every window shares the same
# few truth values, and the quantiles of their errors say little about the next horizon.
MIN_HORIZONS = 5


def fit_intervals(model, train: Windows, val: Windows, levels, batch_size: int = EVAL_BATCH_SIZE, bf16: bool = False,
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
    intervals = Intervals.fit(*val_forecasts, levels=levels, horizons=horizons)
    return intervals, (f"prediction intervals fit on {len(held)} {source} windows (spanning {int(horizons)} "
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
        floor: (C,) the smallest window scale applied per channel (after the power).
        windows: how many held-out windows they were fit on.
        power: the window's std is raised to it to give its scale (runs saved before it was kept: 1).
    """

    levels: tuple[float, ...]
    offsets: np.ndarray
    floor: np.ndarray
    windows: int
    power: float = 1.0

    @classmethod
    def fit(cls, pred: np.ndarray, truth: np.ndarray, scale: np.ndarray, levels=QUANTILES,
            horizons: float | None = None) -> "Intervals":
        """From held-out forecasts ``pred`` and ``truth`` (N, P, C) and their windows' scales (N, C). ``horizons``:
        how many non-overlapping horizons the windows span (overlapping windows share their truth, so N windows hold
        about that many independent errors per step: split conformal's correction counts those); None: N."""
        levels = check_levels(levels)
        if len(pred) == 0:
            raise ValueError("no held-out windows to fit prediction intervals on")
        scale = scale ** POWER
        floor = np.maximum(FLOOR * FLOOR_OF(scale, axis=0), 1e-6)  # (C,)
        errors = (truth - pred) / np.maximum(scale, floor)[:, None, :]  # (N, P, C)
        n = len(errors) if horizons is None else max(1, min(len(errors), int(horizons)))  # split conformal's
        adjusted = np.clip(0.5 + (np.asarray(levels) - 0.5) * (n + 1) / n, 0, 1)  # correction: each level moved
        # away from the median by (n + 1) / n
        offsets = np.moveaxis(np.quantile(errors, adjusted, axis=0), 0, -1)  # (P, C, Q)
        return cls(levels, offsets, floor, len(pred), POWER)

    def quantiles(self, pred: np.ndarray, scale: np.ndarray, channels=slice(None)) -> np.ndarray:
        """The forecast quantiles of ``channels`` (default all), from the windows' ``window_scale``.

        Shape: pred (N, P, C), scale (N, C) -> (N, P, C', Q)."""
        s = np.maximum(scale[:, channels] ** self.power, self.floor[channels])[:, None, :, None]  # (N, 1, C', 1)
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
                "windows": self.windows, "power": self.power}

    @classmethod
    def from_dict(cls, d: dict) -> "Intervals":
        return cls(check_levels(d["levels"]), np.asarray(d["offsets"], dtype=np.float64),
                   np.asarray(d["floor"], dtype=np.float64), int(d["windows"]), float(d.get("power", 1.0)))


def predict_windows(model, batches: Iterable, bf16: bool = False,
                    forecasts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point forecasts, truth (N, P, C_out) and window scales (N, C_out) of every window the batches serve (the
    forecast channels are the inputs' last C_out). ``forecasts``: the model's forecasts of these windows where the
    caller has them already (``fit``'s validation pass), so the model does not run again."""
    def scale(batch) -> np.ndarray:
        return window_scale(batch.x[..., -batch.target.shape[-1]:].numpy())

    if forecasts is None:
        return predict(model, batches, bf16, extra=scale)
    truth, scales = (np.concatenate(parts) for parts in zip(*((b.target.numpy(), scale(b)) for b in batches)))
    if truth.shape != forecasts.shape:
        raise ValueError(f"forecasts of shape {forecasts.shape} are not of these windows' {truth.shape}")
    return forecasts, truth, scales


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
