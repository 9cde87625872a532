"""The Python API: a forecaster fit on a pandas frame that forecasts the real future in original units.

    fc = Forecaster(pred_len=24, features="MS", target="OT")  # model="auto": candidates weighted on validation
    fc.fit(df)             # wide: a 'date' column (or DatetimeIndex) + numeric columns
    fc.predict()           # the next pred_len timestamps after df's last row

Long format (columns unique_id, ds, y; many series) fits one univariate model on all series, each scaled on its own,
and predicts every series.
"""

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import DataConfig, StandardScaler, normalize_frame, prepare_frame
from .data.frame import default_target
from .data.datasets import BUILTIN, grid_rows, infer_freq, input_on_grid
from .data.windows import ConcatWindows
from .errors import CheckpointError, DataError
from .forecasting.experiment import build_forecaster, user_settings
from .forecasting.lookback import choose_lookback
from .forecasting.intervals import fit_intervals, interval_scores, predict_windows
from .forecasting.skill import seasonal_naive
from .forecasting.predict import ForecastSpec, forecast_at, forecast_future
from .forecasting.run_dir import SERIES, load_intervals, load_run, read_json, save_intervals, save_run, write_json
from .models import SeriesConfig, model_classes
from .forecasting import auto
from .forecasting.frames import LONG_COLUMNS, as_frame, is_long, recent_from_json, recent_to_json, source as _source
from .console import say
from .models.registry import AUTO, ENSEMBLE, STATISTICAL, covariates_note, train_defaults
from .timefeatures import season_length
from .training import TrainConfig, fit, forecast_metrics, seed_everything
from .training.precision import resolve_device
from .training.train_on_val import train_on_val

# The data settings a Forecaster takes (no file, and no test split to subsample)
_DATA_FIELDS = {f.name for f in dataclasses.fields(DataConfig)} - {"data", "root_path", "test_windows", "scaler_rows"}
_TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


class Forecaster:
    """A forecasting model fit on a DataFrame; forecasts in original units with real future timestamps, and their
    prediction intervals (quantile columns; ``quantiles=`` sets the levels).

    ``model``: "auto" (the default): its candidates (LongPatch, seasonal naive, DLinear, and AutoETS and AutoARIMA
    with the ``stats`` extra; AutoARIMA on daily or coarser data) are scored on the last horizons of the data,
    fit on the rows before them, and their forecasts weighted by the inverse of those scores (``validate``,
    ``forecasting/auto.py``); or one model by name:
    "longpatch", "informer", "patchtst", "dlinear", "repeat_last", "seasonal_naive", "auto_ets" / "auto_arima" /
    "auto_theta" (the ``stats`` extra).

    Keyword arguments are the CLI's flags with the same defaults: data settings (seq_len, label_len, pred_len,
    features, target, freq, date_col, embed), training settings (epochs, batch_size, lr, patience, lradj, seed,
    ...) and model settings (d_model, n_heads, e_layers, attn, factor, ...). Without ``target``, a wide frame's
    forecast column is "OT" where it has one, else its only numeric column (``fit`` asks where there are several).

    ``fit`` holds out the last 10% of each series' rows for early stopping; scalers are fit on the first 90%. With
    ``train_on_val=True`` the model is then trained again from its start on every window, held-out ones included, for
    the epochs validation kept (``TrainConfig.train_on_val``).
    With features "MS" only "informer" reads the other columns; every other model (and so "auto") forecasts the target
    from its own history (``models.registry.covariates_note`` says so at fit).
    """

    def __init__(self, model: str = AUTO, *, seq_len: int | None = None, label_len: int | None = None,
                 pred_len: int = 24, features: str = "MS", target: str | None = None, freq: str | None = None,
                 date_col: str = "date", embed: str = "timeF", fill: str | None = None, season: int | None = None,
                 **settings):
        if model == AUTO:
            unknown = set(settings) - _TRAIN_FIELDS
            if unknown:
                raise ValueError(f"model='auto' takes data and training settings only, not {sorted(unknown)}")
        else:
            model_classes(model)
        self.kwargs = dict(seq_len=seq_len, label_len=label_len, pred_len=pred_len, features=features,
                           target=target, freq=freq, date_col=date_col, embed=embed, fill=fill, season=season,
                           **settings)  # what a candidate of model='auto' is built with
        self.auto_report: dict | None = None
        self.auto_choice: dict | None = None  # model='auto': weights chosen already (a scored run's refit keeps its)
        self.with_intervals = True  # fit prediction intervals after training
        self.intervals_note: str | None = None  # what the last fit's intervals were fit on, or why there are none
        self.published = False  # a run of a built-in dataset (Forecaster.load): its published gaps are kept
        self.notes = True  # say what the user should know about the fit (off for auto's candidates and members)
        self.data_name: str | None = None  # how messages name a wide frame given to fit (None: "the DataFrame")
        self.model_name = model
        self.auto_lookback = seq_len is None  # chosen in fit from the frequency and the series' length
        self.label_len_given = label_len
        seq_len = seq_len or max(pred_len, 1)
        label_len = min(48, seq_len) if label_len is None else label_len
        self.data_cfg = DataConfig(data="<DataFrame>", features=features, target=target, freq=freq,
                                   date_col=date_col, seq_len=seq_len, label_len=label_len, pred_len=pred_len,
                                   embed=embed, fill=fill, season=season)
        self.train_cfg = TrainConfig(**{**train_defaults(model),
                                        **{k: v for k, v in settings.items() if k in _TRAIN_FIELDS}})
        self.model_params = {k: v for k, v in settings.items() if k not in _TRAIN_FIELDS}
        self.model, self.history, self.series_cfg, self.intervals = None, None, None, None
        self.all_windows_history = None  # TrainConfig.train_on_val's training, beside the validated run's history
        self.series: dict = {}  # series id (None for a wide frame) -> (ForecastSpec, recent rows)

    # -- frames in, per series -------------------------------------------------------------------------------------
    def _frames(self, df: pd.DataFrame, long: bool, on_grid: bool = True, name: str | None = None) -> dict:
        """Normalized frames per series id, with the date column named 'date'; with ``on_grid`` (predict and
        backtest; fit puts its rows on the grid as it prepares them), on the fitted rows' time grid, gaps filled where
        ``fill`` is set and refused where not, so predict and backtest see rows as fit did. ``name``: how messages
        name a wide frame (a file's path; default "the DataFrame")."""
        if not long:
            frames = {None: normalize_frame(df, self.data_cfg.date_col, name or self._series_name(None))}
        else:
            frames = {uid: normalize_frame(group[["ds", "y"]].reset_index(drop=True), "ds",
                                           self._series_name(uid))
                      for uid, group in df.groupby("unique_id", sort=False)}
        return {uid: self._regular(f, uid, name) for uid, f in frames.items()} if on_grid else frames

    def _series_name(self, uid) -> str:
        """How messages name a series: ``data_name`` for a wide frame where it is set, else ``frames.source``."""
        return self.data_name if uid is None and self.data_name else _source(uid)

    def _regular(self, frame: pd.DataFrame, uid, name: str | None = None) -> pd.DataFrame:
        name = name if uid is None and name else self._series_name(uid)
        return input_on_grid(frame, self.data_cfg, name, self.published)

    def fit(self, df: pd.DataFrame | pd.Series, *, checkpoint: str | Path | None = None, resume: bool = False) -> "Forecaster":
        """Fit on ``df`` (wide, long with unique_id / ds / y, or a Series on a DatetimeIndex); returns self.

        ``checkpoint``: a file the training writes after every epoch (and every ``checkpoint_minutes`` inside one);
        ``resume=True`` continues a fit that was stopped from it, with the same ``df`` and settings, and ends as the
        uninterrupted fit would. Models that do not train (statistical, ``auto``'s weighted candidates) ignore both.
        """
        shown = self.with_intervals, self.notes  # what the caller asked of this fit (re-inits below reset them)
        df = as_frame(df)
        members = None  # model='auto' with more than one weighted candidate: name -> its Forecaster, fit on df
        if self.data_cfg.target is None and not is_long(df):
            values = df.drop(columns=[self.data_cfg.date_col], errors="ignore")
            self.kwargs["target"] = default_target(values, self._series_name(None))
            self.data_cfg = dataclasses.replace(self.data_cfg, target=self.kwargs["target"])
        if self.notes:
            self._note_covariates(df)
        if self.auto_report is not None and self.model_name != AUTO:  # fit again: choose again
            self.__init__(AUTO, **{k: v for k, v in self.kwargs.items() if k not in self.model_params})
            self.with_intervals, self.notes = shown
        if self.model_name == AUTO:
            report = auto.choose(self, df) if self.auto_choice is None else auto.keep(self.auto_choice)
            if len(report["weights"]) > 1:
                members = auto.fit_members(self, df, report)
            self.__init__(ENSEMBLE if members else report["chosen"], **self.kwargs)
            self.auto_report, (self.with_intervals, self.notes) = report, shown
        elif self.model_name == ENSEMBLE:
            raise ValueError("model='ensemble' is what model='auto' builds from its fitted candidates; fit "
                             "Forecaster('auto', ...) instead")
        long = is_long(df)
        if long:
            self.data_cfg = dataclasses.replace(self.data_cfg, features="S", target="y", date_col="ds")
        seed_everything(self.train_cfg.seed)
        frames = self._frames(df, long, on_grid=False)
        if members:  # the ensemble reads the longest of its members' lookbacks
            seq_len = max(fc.data_cfg.seq_len for fc in members.values())
            self.data_cfg = dataclasses.replace(self.data_cfg, seq_len=seq_len,
                                                label_len=min(self.data_cfg.label_len, seq_len))
        elif self.auto_lookback:
            self._choose_lookback(frames)
        untrained = self.model_name in STATISTICAL or bool(members)  # nothing to train: no training window needed
        prepared = {uid: prepare_frame(f, self.data_cfg, split="fit", source=self._series_name(uid),
                                       train_windows=0 if untrained else 1) for uid, f in frames.items()}
        freqs = {p.freq for p in prepared.values()}
        if len(freqs) > 1:
            raise DataError(f"the series have different frequencies {sorted(freqs)}; give freq= or resample them")
        first = next(iter(prepared.values()))
        self.data_cfg = dataclasses.replace(self.data_cfg, freq=first.freq)
        self.published = False  # a frame handed to fit is the user's, whatever a loaded run's data was
        with warnings.catch_warnings():  # preparing the frames said what filling or repeats did to them
            warnings.simplefilter("ignore", UserWarning)
            frames = {uid: self._regular(f, uid) for uid, f in frames.items()}  # the rows predict() starts from
        if members:
            self.model, self.series_cfg = auto.build_ensemble(self, members, first), SeriesConfig()
        else:
            self.model, _, self.series_cfg = build_forecaster(self.model_name, self.model_params, self.data_cfg,
                                                              first)
        train = ConcatWindows([p.splits["train"] for p in prepared.values()])
        val = ConcatWindows([p.splits["val"] for p in prepared.values()])
        kept = []  # training's float32 validation forecasts of the kept weights, where it computed them
        if any(p.requires_grad for p in self.model.parameters()):
            if resume and (checkpoint is None or not Path(checkpoint).is_file()):
                raise CheckpointError(f"no checkpoint to resume the fit from: {checkpoint}")
            # the intervals are fit on float32 forecasts, as predict computes them: training's serve where it ran so
            fp32 = self.train_cfg.resolved_precision(resolve_device(self.train_cfg.device), self.model)[0] == "fp32"
            self.history = fit(self.model, train.loader(self.train_cfg.batch_size, True, self.train_cfg.seed),
                               val.loader(self.train_cfg.eval_batch_size), self.train_cfg,
                               checkpoint=None if checkpoint is None else Path(checkpoint), resume=resume,
                               val_predictions=kept if fp32 and self.with_intervals else None)
        elif hasattr(self.model, "init_from_data"):  # nothing to train, but fit from the data (a seasonal profile)
            self.model.init_from_data(train.loader(self.train_cfg.eval_batch_size),
                                      val.loader(self.train_cfg.eval_batch_size))
        self.intervals = None
        if self.with_intervals:  # from the errors on held-out windows (fp32, as predict computes)
            forecasts = predict_windows(self.model, val.loader(self.train_cfg.eval_batch_size), False, kept[0]) \
                if kept else None
            self.intervals, note = fit_intervals(self.model, train, val, self.train_cfg.quantiles,
                                                 self.train_cfg.eval_batch_size, val_forecasts=forecasts)
            self.intervals_note = note
            if self.intervals is None:
                warnings.warn(note, stacklevel=2)
        if self.train_cfg.train_on_val and self.history is not None:  # the held-out windows too
            windows = ConcatWindows([p.splits[s] for p in prepared.values() for s in ("train", "val")])
            self.model, self.all_windows_history = train_on_val(
                self.model, self.history.best_epoch + 1,
                lambda: build_forecaster(self.model_name, self.model_params, self.data_cfg, first)[0],
                windows, self.train_cfg)
        self.model.eval()
        self.series = {uid: (ForecastSpec(self.data_cfg, p.columns, p.target_columns, p.scaler, self.intervals),
                             frames[uid].tail(self.data_cfg.seq_len).reset_index(drop=True))
                       for uid, p in prepared.items()}
        return self

    def _note_covariates(self, df: pd.DataFrame) -> None:
        """Say so when features MS gives other columns to a model that forecasts the target from its own history."""
        cfg = self.data_cfg
        if cfg.features != "MS" or is_long(df) or cfg.target not in df.columns:  # the frame's own checks say more
            return
        others = [c for c in df.columns
                  if c not in (cfg.date_col, cfg.target) and pd.api.types.is_numeric_dtype(df[c])]
        independent = bool(self.model_params.get("channel_independent"))
        note = covariates_note(self.model_name, independent, cfg.target, others)
        if note:
            say(note)

    def validate(self, df: pd.DataFrame, names, windows: int | None = None) -> dict:
        """The validation scores model='auto' weights its candidates by (``forecasting.auto.validate``); ``windows``
        fixes the number of held-out horizons instead of choosing it."""
        return auto.validate(self, df, names, windows)

    def _shortest(self, frames: dict) -> tuple:
        """(id, frame) of the shortest series, and the data's frequency: the one given, or its inferred one."""
        uid, shortest = min(frames.items(), key=lambda kv: len(kv[1]))
        freq = self.data_cfg.freq or infer_freq(pd.DatetimeIndex(shortest["date"]), self._series_name(uid))
        return uid, shortest, freq

    def _choose_lookback(self, frames: dict) -> None:
        """seq_len from the frequency, shortened to fit the shortest series (see ``data.lookback``)."""
        cfg = self.data_cfg
        _, _, freq = self._shortest(frames)
        # the shortest series in the rows fit will have, gaps filled as its fill says
        uid, rows = min(((u, grid_rows(f, freq, cfg.fill)) for u, f in frames.items()), key=lambda t: t[1])
        seq_len = choose_lookback(self.model_name, self.model_params, freq, rows, cfg.pred_len, cfg.season,
                                  self._series_name(uid))
        label_len = 48 if self.label_len_given is None else self.label_len_given
        self.data_cfg = dataclasses.replace(cfg, seq_len=seq_len, label_len=min(label_len, seq_len))

    def _check_fitted(self):
        if self.model is None:
            raise DataError("this Forecaster is not fitted yet: call fit(df) or Forecaster.load(path)")

    def _spec(self, uid) -> ForecastSpec:
        if uid not in self.series:
            raise DataError(f"series {uid!r} was not in the data given to fit; its scale is unknown")
        return self.series[uid][0]

    @property
    def long(self) -> bool:
        return None not in self.series

    # -- forecasts ----------------------------------------------------------------------------------------------------
    def predict(self, df: pd.DataFrame | pd.Series | None = None) -> pd.DataFrame:
        """Forecast the pred_len steps after the last row of ``df`` (default: the data given to ``fit``).

        Returns a 'date' column, one column per forecast variable and one per variable and quantile level
        (``OT_q10``, ``OT_q50``, ``OT_q90`` by default: ``quantiles=`` chooses the levels); for long input, columns
        unique_id, ds, y and y_q10, y_q50, y_q90.
        """
        self._check_fitted()
        frames = {uid: recent for uid, (_, recent) in self.series.items()} if df is None else \
            self._frames(as_frame(df), self.long)
        out = {uid: forecast_future(self.model, self._spec(uid), frame) for uid, frame in frames.items()}
        if not self.long:
            return out[None]
        long = pd.concat([f.rename(columns={"date": "ds"}).assign(unique_id=uid) for uid, f in out.items()],
                         ignore_index=True)
        return long[list(LONG_COLUMNS) + [c for c in long.columns if c not in LONG_COLUMNS]]

    def backtest(self, df: pd.DataFrame | pd.Series, windows: int = 10, stride: int | None = None, *,
                 source: str | None = None) -> pd.DataFrame:
        """Rolling-origin evaluation: ``windows`` forecasts whose horizons end ``stride`` rows apart, the last one at
        the end of each series; each reads only the rows before its origin. Metrics are in original units, with
        the seasonal-naive forecast's MSE from the same rows and the skill ratio (model MSE / seasonal naive's;
        below 1 is skill); with prediction intervals, the share of the truth inside each central band (e.g.
        ``coverage_0.1-0.9``, nominal 0.8) and the mean pinball loss of the quantiles.

        For an honest score, fit on data that ends before the first origin. ``source``: how messages name the data
        (a file's path; default "the DataFrame").
        """
        self._check_fitted()
        df = as_frame(df)
        if windows < 1 or stride is not None and stride < 1:
            raise DataError(f"backtest needs windows >= 1 and stride >= 1, got windows={windows}, stride={stride}")
        cfg = self.data_cfg
        stride = stride or cfg.pred_len
        rows = []
        for uid, frame in self._frames(df, self.long, name=source).items():
            spec = self._spec(uid)
            origins = [len(frame) - cfg.pred_len - k * stride for k in reversed(range(windows))]
            if origins[0] < cfg.seq_len:
                raise DataError(f"{windows} windows {stride} rows apart need "
                                f"{cfg.seq_len + cfg.pred_len + (windows - 1) * stride} rows; {len(frame)} given")
            preds, quantiles = forecast_at(self.model, spec, frame, origins)  # (N, P, C_out), (N, P, C_out, Q)
            truth = frame[spec.target_columns].to_numpy(dtype=np.float64, copy=True)
            season = season_length(cfg.freq, cfg.season)
            for k, (origin, pred) in enumerate(zip(origins, preds)):
                m = forecast_metrics(pred, truth[origin:origin + cfg.pred_len])
                row = {**({"unique_id": uid} if self.long else {}), "origin": frame["date"].iloc[origin],
                       "mse": m["mse"], "mae": m["mae"], "rmse": m["rmse"], "wape": m["wape"]}
                if quantiles is not None:
                    scores = interval_scores(quantiles[k], truth[origin:origin + cfg.pred_len], spec.intervals.levels)
                    row |= {f"coverage_{band}": v["coverage"] for band, v in scores["coverage"].items()}
                    row["pinball"] = scores["pinball"]
                if origin >= season:  # seasonal naive from the rows before the origin, as the model
                    naive = seasonal_naive(torch.as_tensor(truth[None, :origin]), season, cfg.pred_len)[0].numpy()
                    row["seasonal_naive_mse"] = forecast_metrics(naive, truth[origin:origin + cfg.pred_len])["mse"]
                    row["skill"] = m["mse"] / row["seasonal_naive_mse"] if row["seasonal_naive_mse"] else None
                rows.append(row)
        return pd.DataFrame(rows)

    # -- persistence --------------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """A run folder: safetensors weights, JSON config and scalers, and each series' recent rows for predict()."""
        self._check_fitted()
        path = Path(path)
        spec = next(iter(self.series.values()))[0]
        config = {"model_name": self.model_name, "model": self.model.config.to_dict(),
                  "series": self.series_cfg.to_dict(),
                  "data": self.data_cfg.to_dict(), "train": self.train_cfg.to_dict(),
                  "columns": spec.columns, "target_columns": spec.target_columns}
        if self.auto_report is not None:
            config["auto"] = self.auto_report
        save_run(path, self.model, config, spec.scaler)
        save_intervals(path, self.intervals)
        write_json(path / SERIES, [{"unique_id": uid, "scaler": s.scaler.to_dict(), **recent_to_json(recent)}
                                   for uid, (s, recent) in self.series.items()])

    @classmethod
    def from_config(cls, config: dict) -> "Forecaster":
        """An unfitted Forecaster with a saved run's settings (data, training, and the model's own)."""
        data = config["data"]
        return cls(config["model_name"], **{k: data[k] for k in _DATA_FIELDS if k in data}, **config["train"],
                   **user_settings(config))

    @classmethod
    def load(cls, path: str | Path) -> "Forecaster":
        path = Path(path)
        model, config, scaler = load_run(path)
        try:
            fc = cls.from_config(config)
        except (KeyError, TypeError) as e:
            raise CheckpointError(f"{path} is not a forecaster run folder: {e}") from e
        fc.model, fc.series_cfg = model, SeriesConfig(**config.get("series", {}))
        fc.published = config["data"].get("data") in BUILTIN
        fc.intervals, fc.auto_report = load_intervals(path), config.get("auto")
        spec = ForecastSpec.from_run(config, scaler, fc.intervals)
        if not (path / SERIES).exists():  # a run folder of `sparsecast train`: predict(df) needs history
            fc.series = {None: (spec, None)}
            return fc
        for entry in read_json(path / SERIES):
            fc.series[entry["unique_id"]] = (dataclasses.replace(spec, scaler=StandardScaler.from_dict(entry["scaler"])),
                                             recent_from_json(entry))
        return fc

    def __repr__(self) -> str:
        cfg = self.data_cfg
        state = f"fitted on {len(self.series)} series" if self.model is not None else "not fitted"
        seq = "auto" if self.auto_lookback and self.model is None else cfg.seq_len
        return (f"Forecaster({self.model_name!r}, seq_len={seq}, label_len={cfg.label_len}, "
                f"pred_len={cfg.pred_len}, features={cfg.features!r}, target={cfg.target!r}; {state})")
