"""Skill against the simple baselines every forecast is judged by: seasonal naive and repeat-last.

Notation: N windows, L seq_len, P pred_len, C_out forecast channels, m season length.

A forecast has skill only if it beats seasonal naive (the value one season earlier). Every run reports, on its
own test windows, both baselines' errors, the skill ratio (model MSE / seasonal-naive MSE; below 1 is skill) and
MASE (model MAE over the in-sample MAE of the one-season-back forecast on the training rows; below 1 beats it).
"""

import numpy as np
import torch

from ..data import PreparedData
from ..data.batch import stack_windows
from ..models.statistical import seasonal_naive
from ..training import forecast_metrics


def baseline_scores(prepared: PreparedData, split: str, season: int, index: torch.Tensor | None = None) -> dict:
    """MSE / MAE (normalized scale) of repeat-last and seasonal naive on every window of ``split`` (or on the
    windows at positions ``index``)."""
    windows = prepared.splits[split]
    starts = torch.arange(len(windows)) if index is None else index
    history = stack_windows(windows.targets, starts, windows.seq_len)  # (N, L, C_out)
    truth = stack_windows(windows.targets, starts + windows.seq_len, windows.pred_len).numpy()  # (N, P, C_out)
    out = {"repeat_last": history[:, -1:].expand(-1, windows.pred_len, -1).numpy()}
    if season <= windows.seq_len:
        out["seasonal_naive"] = seasonal_naive(history, season, windows.pred_len).numpy()
    return {name: {k: forecast_metrics(pred, truth)[k] for k in ("mse", "mae")} for name, pred in out.items()}


def mase_scale(prepared: PreparedData, season: int) -> float:
    """In-sample MAE of the one-season-back forecast over the training rows (normalized scale)."""
    rows = prepared.splits["train"].targets.numpy()  # (N_train, C_out)
    return float(np.abs(rows[season:] - rows[:-season]).mean()) if len(rows) > season else float("nan")


def skill_report(prepared: PreparedData, test: dict, season: int, index: torch.Tensor | None = None) -> dict:
    """The baselines' test errors, the skill ratio and MASE of a model's ``test`` metrics (normalized scale), on
    the test windows the model was scored on (positions ``index``; None: all)."""
    baselines = baseline_scores(prepared, "test", season, index)
    scale = mase_scale(prepared, season)
    return {"season": season, "baselines": baselines,
            "skill_vs_seasonal_naive": _ratio(test["mse"], baselines.get("seasonal_naive")),
            "skill_vs_repeat_last": _ratio(test["mse"], baselines["repeat_last"]),
            "mase": test["mae"] / scale if scale and np.isfinite(scale) else None}


def _ratio(mse: float, baseline: dict | None) -> float | None:
    """The model's MSE over a baseline's; None where the baseline is missing or exact (a constant series: MSE 0)."""
    return mse / baseline["mse"] if baseline and baseline["mse"] else None
