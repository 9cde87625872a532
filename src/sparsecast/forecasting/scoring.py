"""How a run's forecasts are scored: every window of a split (or evenly spaced ones), and the subsets the tables
compare on (the evenly spaced test windows, the windows the published anchors' loaders keep)."""

import numpy as np
import torch

from ..data import PreparedData
from ..data.windows import SpacedWindows, spaced_index
from ..training import forecast_metrics
from .intervals import predict_windows


# The evenly spaced test windows every run is also scored on: models refit on every window (statsforecast's) are
# scored on these alone in the LTSF table, so every column has a figure on the same windows.
SPACED_TEST = 100
# The published LTSF anchors' test loaders use batch 128 (PatchTST's scripts) and drop the last partial batch: they
# score the first len // 128 * 128 test windows. Every run records its figure on those too, to compare like with like.
ANCHOR_TEST_BATCH = 128


def score(model, prepared: PreparedData, split: str, batch_size: int, bf16: bool = False,
          limit: int = 0) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, torch.Tensor]:
    """Metrics of every window of a split (or of ``limit`` evenly spaced ones), normalized and in original units;
    also the predictions and truth (N, P, C_out), the windows' scales (N, C_out) that prediction intervals use and
    the positions (N,) of the windows scored."""
    windows = prepared.splits[split]
    scored = SpacedWindows(windows, limit) if limit else windows
    index = scored.index if limit else torch.arange(len(windows))
    pred, true, scale = predict_windows(model, scored.loader(batch_size), bf16)
    cols = prepared.target_index
    units = forecast_metrics(prepared.scaler.inverse(pred, cols), prepared.scaler.inverse(true, cols))
    return ({**forecast_metrics(pred, true), "original_units": units, "windows": len(pred)}, pred, true, scale,
            index)


def spaced_metrics(pred: np.ndarray, true: np.ndarray, index: torch.Tensor, total: int) -> dict | None:
    """MSE / MAE on the SPACED_TEST evenly spaced windows of a split of ``total`` (what models refit on every window
    are scored on in the tables), from forecasts of the windows at ``index``; None when those are not among them."""
    want = spaced_index(total, SPACED_TEST)
    where = {int(i): k for k, i in enumerate(index)}
    if not all(int(i) in where for i in want):
        return None
    return subset_metrics(pred, true, [where[int(i)] for i in want])


def subset_metrics(pred: np.ndarray, true: np.ndarray, rows) -> dict:
    """MSE / MAE of the forecasts at ``rows`` (N,), and how many windows that is."""
    pred, true = pred[rows], true[rows]
    return {**{k: forecast_metrics(pred, true)[k] for k in ("mse", "mae")}, "windows": len(pred)}


def drop_last_metrics(pred: np.ndarray, true: np.ndarray, index: torch.Tensor, total: int,
                      batch: int = ANCHOR_TEST_BATCH) -> dict | None:
    """MSE / MAE on the windows a test loader of ``batch`` that drops its last partial batch scores (the first
    ``total // batch * batch``, as the published anchors' code does); None unless every window was forecast."""
    if len(index) != total or not torch.equal(index, torch.arange(total)) or total < batch:
        return None
    return {**subset_metrics(pred, true, slice(0, total // batch * batch)), "batch": batch}
