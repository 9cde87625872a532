"""Forecast error metrics (the Informer code's definitions), on arrays of any matching shape."""

import numpy as np


METRIC_NAMES = ("mse", "mae", "rmse", "mape", "mspe", "wape")


def forecast_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """MSE, MAE, RMSE, MAPE, MSPE and WAPE of ``pred`` against ``true``.

    MAPE/MSPE divide each error by its truth (as in the paper's code): truths near zero make them huge, on the
    normalized scale and in series that cross zero. WAPE, the sum of absolute errors over the sum of absolute truths,
    stays readable there (ours; not in the paper).
    """
    err = pred.astype(np.float64) - true.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = err / true
    rel = rel[np.isfinite(rel)]
    mse = float(np.mean(err ** 2))
    return {"mse": mse, "mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(mse)),
            "mape": float(np.mean(np.abs(rel))) if rel.size else float("nan"),
            "mspe": float(np.mean(rel ** 2)) if rel.size else float("nan"),
            "wape": float(np.abs(err).sum() / scale) if (scale := np.abs(true).sum()) else float("nan")}


QUANTILES = (0.1, 0.5, 0.9)


def check_levels(levels) -> tuple[float, ...]:
    """Quantile levels as an increasing tuple strictly inside (0, 1) (empty: no intervals); anything else raises
    ValueError."""
    levels = tuple(float(q) for q in levels)
    if any(not 0 < q < 1 for q in levels) or list(levels) != sorted(set(levels)):
        raise ValueError(f"quantile levels must be increasing and strictly between 0 and 1, got {levels}")
    return levels


def pinball_loss(q: np.ndarray, true: np.ndarray, levels) -> float:
    """The mean quantile (pinball) loss of quantile forecasts ``q`` (..., Q) at ``levels`` against ``true`` (...)."""
    diff = true.astype(np.float64)[..., None] - q
    lv = np.asarray(levels, dtype=np.float64)
    return float(np.maximum(lv * diff, (lv - 1) * diff).mean())
