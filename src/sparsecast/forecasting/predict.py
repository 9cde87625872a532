"""Forecasts of the real future (and of past origins, for backtests) in original units.

Notation: N origins, C input columns, C_out forecast columns, T time features.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data import DataConfig, StandardScaler
from ..data.frame import fill_values
from ..data.batch import ForecastBatch
from ..errors import DataError
from ..timefeatures import grid_index, normalize_freq, time_features
from ..training.trainer import model_device
from .intervals import Intervals, column_name, window_scale


@dataclass(frozen=True)
class ForecastSpec:
    """What a trained forecaster needs to turn a frame of history into forecasts."""

    data: DataConfig
    columns: list[str]
    target_columns: list[str]
    scaler: StandardScaler
    intervals: Intervals | None = None  # prediction intervals, where the run fit them

    @classmethod
    def from_run(cls, config: dict, scaler: StandardScaler, intervals: Intervals | None = None) -> "ForecastSpec":
        return cls(DataConfig(**config["data"]), config["columns"], config["target_columns"], scaler, intervals)


def future_dates(last: pd.Timestamp, freq: str, n: int) -> pd.DatetimeIndex:
    """The ``n`` timestamps after ``last`` at frequency ``freq``."""
    return pd.date_range(last, periods=n + 1, freq=normalize_freq(freq))[1:]


def check_columns(frame: pd.DataFrame, spec: ForecastSpec, source: str = "the input") -> None:
    """DataError naming the model's input columns that ``frame`` lacks, and the columns it has."""
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        has = [c for c in frame.columns if c != "date"]
        raise DataError(f"{source} lacks column(s) {missing} the model was trained on (it read {spec.columns}); "
                        f"{source} has {has[:12]}{' ...' if len(has) > 12 else ''}")


def _values(frame: pd.DataFrame, spec: ForecastSpec) -> np.ndarray:
    """The model's input columns of ``frame``; with the spec's ``fill`` its missing values are filled from the
    frame's own rows only (a window's rows, in ``forecast_at``, so no later row reaches a forecast)."""
    check_columns(frame, spec)
    if spec.data.fill is not None:  # forecast_at said how many
        frame = fill_values(frame, spec.columns, spec.data.fill, "the input", warn=False)
    values = frame[spec.columns].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        row = int(np.argwhere(~np.isfinite(values))[0, 0])
        raise DataError(f"missing or infinite value at {frame['date'].iloc[row]} in the input; fill it first "
                        f"(or train with fill='ffill' or 'interpolate')")
    return values


@torch.no_grad()
def forecast_at(model: nn.Module, spec: ForecastSpec, frame: pd.DataFrame,
                ends: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
    """Forecasts from the seq_len rows before each index in ``ends`` (row ``end`` is the first forecast step, which
    may lie beyond the frame). Only rows before ``end`` are read.

    Returns:
        the point forecasts (N, pred_len, C_out) and, where the spec has intervals, the quantiles
        (N, pred_len, C_out, Q), both in original units.
    """
    cfg = spec.data
    if min(ends) < cfg.seq_len:
        raise DataError(f"the input has {min(ends)} rows of history before a forecast; the model reads the last "
                        f"{cfg.seq_len} rows before each forecast (its lookback, seq_len): give at least that many")
    columns = [c for c in spec.columns if c in frame.columns]  # _values names any missing one
    read = frame[columns].iloc[min(ends) - cfg.seq_len:max(ends)]  # every row a window reads
    missing = int(read.isna().sum().sum()) if cfg.fill is not None else 0
    if missing:
        warnings.warn(f"filled {missing} missing value(s) of the input by {cfg.fill}, each window from its own "
                      f"rows", stacklevel=2)
    dates = pd.DatetimeIndex(frame["date"])
    xs, x_marks, f_marks, origins = [], [], [], []
    for end in ends:
        window = frame.iloc[end - cfg.seq_len:end]  # filled on its own: nothing at or after ``end`` is read
        xs.append(torch.as_tensor(spec.scaler.transform(_values(window, spec)), dtype=torch.float32))  # (L, C)
        hist = dates[end - cfg.seq_len:end]
        future = future_dates(hist[-1], cfg.freq, cfg.pred_len)
        marks = torch.as_tensor(time_features(hist.append(future), cfg.freq, cfg.embed))  # (seq + pred, T)
        x_marks.append(marks[:cfg.seq_len])
        f_marks.append(marks[cfg.seq_len:])
        origins.append(int(grid_index(future[:1], cfg.freq)[0]))
    batch = ForecastBatch(x=torch.stack(xs), x_mark=torch.stack(x_marks), future_mark=torch.stack(f_marks),
                          origin=torch.tensor(origins))
    model.eval()
    out = model(**batch.to(model_device(model)).inputs())
    pred = (out[0] if isinstance(out, tuple) else out).float().cpu().numpy()  # (N, pred_len, C_out)
    cols = [spec.columns.index(c) for c in spec.target_columns]
    quantiles = None
    if spec.intervals is not None:
        q = spec.intervals.quantiles(pred, window_scale(batch.x[..., cols].numpy()))  # (N, P, C_out, Q)
        quantiles = np.moveaxis(spec.scaler.inverse(np.moveaxis(q, -1, 0), cols), 0, -1)
    return spec.scaler.inverse(pred, cols), quantiles


def forecast_future(model: nn.Module, spec: ForecastSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The next pred_len steps after the frame's last row: a 'date' column, one column per forecast variable and,
    where the spec has intervals, one per variable and quantile level (``OT_q10``, ``OT_q50``, ``OT_q90``)."""
    pred, quantiles = forecast_at(model, spec, frame, [len(frame)])  # (1, pred_len, C_out), (1, pred_len, C_out, Q)
    dates = future_dates(pd.Timestamp(frame["date"].iloc[-1]), spec.data.freq, spec.data.pred_len)
    columns = {c: pred[0, :, k] for k, c in enumerate(spec.target_columns)}
    if quantiles is not None:
        columns |= {column_name(c, level): quantiles[0, :, k, j] for k, c in enumerate(spec.target_columns)
                    for j, level in enumerate(spec.intervals.levels)}
    return pd.DataFrame({"date": dates, **columns})
