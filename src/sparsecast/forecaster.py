"""The Python API: a forecaster fit on a pandas frame that forecasts the real future in original units.

    fc = Forecaster(seq_len=96, label_len=48, pred_len=24, features="MS", target="OT")
    fc.fit(df)             # a 'date' column (or DatetimeIndex) + numeric columns
    fc.predict()           # the next pred_len timestamps after df's last row
"""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from .data import DataConfig, normalize_frame, prepare_frame
from .errors import CheckpointError, DataError
from .forecasting.experiment import model_config
from .forecasting.predict import ForecastSpec, forecast_at, forecast_future
from .forecasting.run_dir import load_run, read_json, save_run, write_json
from .models import model_classes
from .training import TrainConfig, fit, forecast_metrics, seed_everything

RECENT = "recent.json"
_DATA_FIELDS = {f.name for f in dataclasses.fields(DataConfig)} - {"data", "root_path"}
_TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}
_FROM_DATA = {"enc_in", "dec_in", "c_out", "seq_len", "label_len", "pred_len", "freq", "embed"}


class Forecaster:
    """Informer (or a baseline) fit on a DataFrame; forecasts in original units with real future timestamps.

    Keyword arguments are the CLI's flags with the same defaults: data settings (seq_len, label_len, pred_len,
    features, target, freq, date_col, embed), training settings (epochs, batch_size, lr, patience, lradj, seed,
    ...) and model settings (d_model, n_heads, e_layers, attn, factor, ...).

    ``fit`` holds out the last 10% of the rows for early stopping; the scaler is fit on the first 90%.
    """

    def __init__(self, model: str = "informer", *, seq_len: int = 96, label_len: int = 48, pred_len: int = 24,
                 features: str = "MS", target: str = "OT", freq: str | None = None, date_col: str = "date",
                 embed: str = "timeF", **settings):
        model_classes(model)
        self.model_name = model
        self.data_cfg = DataConfig(data="<DataFrame>", features=features, target=target, freq=freq,
                                   date_col=date_col, seq_len=seq_len, label_len=label_len, pred_len=pred_len,
                                   embed=embed)
        self.train_cfg = TrainConfig(**{k: v for k, v in settings.items() if k in _TRAIN_FIELDS})
        self.model_params = {k: v for k, v in settings.items() if k not in _TRAIN_FIELDS}
        self.model, self.spec, self.recent, self.history = None, None, None, None

    def fit(self, df: pd.DataFrame) -> "Forecaster":
        frame = normalize_frame(df, self.data_cfg.date_col, "the DataFrame")
        seed_everything(self.train_cfg.seed)
        prepared = prepare_frame(frame, self.data_cfg, split="fit", source="the DataFrame")
        self.data_cfg = dataclasses.replace(self.data_cfg, freq=prepared.freq)
        model_cls, _ = model_classes(self.model_name)
        self.model = model_cls(model_config(self.model_name, self.model_params, self.data_cfg, prepared))
        if any(p.requires_grad for p in self.model.parameters()):
            self.history = fit(self.model, prepared.splits["train"].loader(self.train_cfg.batch_size, True,
                                                                           self.train_cfg.seed),
                               prepared.splits["val"].loader(self.train_cfg.eval_batch_size), self.train_cfg)
        self.model.eval()
        self.spec = ForecastSpec(self.data_cfg, prepared.columns, prepared.target_columns, prepared.scaler)
        self.recent = frame.tail(self.data_cfg.seq_len).reset_index(drop=True)
        return self

    def _check_fitted(self):
        if self.model is None:
            raise DataError("this Forecaster is not fitted yet: call fit(df) or Forecaster.load(path)")

    def predict(self, df: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast the pred_len steps after the last row of ``df`` (default: the data given to ``fit``)."""
        self._check_fitted()
        frame = self.recent if df is None else normalize_frame(df, self.data_cfg.date_col, "the DataFrame")
        return forecast_future(self.model, self.spec, frame)

    def backtest(self, df: pd.DataFrame, windows: int = 10, stride: int | None = None) -> pd.DataFrame:
        """Rolling-origin evaluation: ``windows`` forecasts whose horizons end ``stride`` rows apart, the last one at
        the frame's end; each reads only the rows before its origin. Metrics are in original units.

        For an honest score, fit on data that ends before the first origin.
        """
        self._check_fitted()
        frame = normalize_frame(df, self.data_cfg.date_col, "the DataFrame")
        cfg = self.data_cfg
        stride = stride or cfg.pred_len
        origins = [len(frame) - cfg.pred_len - k * stride for k in reversed(range(windows))]
        if origins[0] < cfg.seq_len:
            raise DataError(f"{windows} windows {stride} rows apart need {cfg.seq_len + cfg.pred_len + (windows - 1) * stride}"
                            f" rows; the frame has {len(frame)}")
        preds = forecast_at(self.model, self.spec, frame, origins)  # (N, pred_len, C_out)
        truth = frame[self.spec.target_columns].to_numpy(dtype=np.float64)
        rows = []
        for origin, pred in zip(origins, preds):
            m = forecast_metrics(pred, truth[origin:origin + cfg.pred_len])
            rows.append({"origin": frame["date"].iloc[origin], "mse": m["mse"], "mae": m["mae"], "rmse": m["rmse"]})
        return pd.DataFrame(rows)

    def save(self, path: str | Path) -> None:
        """A run folder: safetensors weights, JSON config and scaler, and the recent history for ``predict()``."""
        self._check_fitted()
        path = Path(path)
        config = {"model_name": self.model_name, "model": self.model.config.to_dict(),
                  "data": self.data_cfg.to_dict(), "train": self.train_cfg.to_dict(),
                  "columns": self.spec.columns, "target_columns": self.spec.target_columns}
        save_run(path, self.model, config, self.spec.scaler)
        recent = self.recent.assign(date=self.recent["date"].astype(str))
        write_json(path / RECENT, recent.to_dict(orient="list"))

    @classmethod
    def load(cls, path: str | Path) -> "Forecaster":
        path = Path(path)
        model, config, scaler = load_run(path)
        data = config["data"]
        model_settings = {k: v for k, v in config["model"].items() if k not in _FROM_DATA}
        try:
            fc = cls(config["model_name"], **{k: data[k] for k in _DATA_FIELDS}, **config["train"], **model_settings)
        except (KeyError, TypeError) as e:
            raise CheckpointError(f"{path} is not a forecaster run folder: {e}") from e
        fc.model, fc.spec = model, ForecastSpec.from_run(config, scaler)
        if (path / RECENT).exists():
            recent = pd.DataFrame(read_json(path / RECENT))
            fc.recent = recent.assign(date=pd.to_datetime(recent["date"]))
        return fc

    def __repr__(self) -> str:
        cfg = self.data_cfg
        state = "fitted" if self.model is not None else "not fitted"
        return (f"Forecaster({self.model_name!r}, seq_len={cfg.seq_len}, label_len={cfg.label_len}, "
                f"pred_len={cfg.pred_len}, features={cfg.features!r}, target={cfg.target!r}; {state})")


