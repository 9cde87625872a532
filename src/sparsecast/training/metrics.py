"""Forecast error metrics (the Informer code's definitions), on arrays of any matching shape."""

import numpy as np


def forecast_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """MSE, MAE, RMSE, MAPE and MSPE of ``pred`` against ``true``.

    MAPE/MSPE divide by the truth; on the normalized scale values near zero make them large (as in the paper's code).
    """
    err = pred.astype(np.float64) - true.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = err / true
    rel = rel[np.isfinite(rel)]
    mse = float(np.mean(err ** 2))
    return {"mse": mse, "mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(mse)),
            "mape": float(np.mean(np.abs(rel))) if rel.size else float("nan"),
            "mspe": float(np.mean(rel ** 2)) if rel.size else float("nan")}
