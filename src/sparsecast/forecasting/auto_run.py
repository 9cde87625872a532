"""``sparsecast train --model auto``: model="auto" (``forecasting/auto.py``) scored as every run is.

The Python API's Forecaster chooses and fits on the rows before the test split alone (its candidates' validation
on the last horizons of those rows, early stopping on their last 10%); then the chosen model, or the weighted mean
of the chosen candidates, forecasts every test window as any run's model does: the same scores, baselines, skill,
plots and run folder, which ``evaluate``, ``predict``, ``backtest`` and ``export`` read as any other. The run scales
its data as that Forecaster did (``DataConfig.scaler_rows``), so ``evaluate`` re-scores it exactly. Its prediction
intervals are the Forecaster's, fit on the windows it held out (the run's validation rows were partly its training
rows).
"""

import dataclasses
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..console import say
from ..data import DataConfig, read_table
from ..data.datasets import prepare_frame, regular_rows, resolve_path
from ..data.splits import fit_train_rows, split_borders
from ..errors import DataError
from ..models.registry import AUTO
from ..training.trainer import model_device
from . import auto
from .experiment import finish_run, run_data
from .run_dir import CONFIG, clear_run, write_json
from .scoring import SPACED_TEST


def train_auto_run(data_cfg: DataConfig, train_settings: dict, out: str | Path, frame: pd.DataFrame | None = None,
                   seq_len: int | None = None, refit: bool = False, log=say) -> dict:
    """Choose and fit model="auto" on the rows of ``data_cfg`` before its test split, score it on every test window
    and write the run folder ``out``; returns its metrics.

    Args:
        data_cfg: the data and its split (its ``seq_len`` is replaced by the chosen model's lookback).
        train_settings: the training settings the user gave (each candidate keeps its own defaults for the rest).
        frame: the data file as ``read_table`` read it already (else it is read here).
        seq_len: every candidate's lookback; None lets each choose its own from the frequency and the rows.
        refit: recorded in config.json, as ``train_run`` records it.
    """
    out = Path(out)
    path, builtin = resolve_path(data_cfg)
    frame = read_table(path, data_cfg.date_col) if frame is None else frame
    split, source = (builtin.split if builtin else "custom"), str(path)
    # The rows as the run cuts its splits from them (gaps filled where --fill asks); the first test forecast row does
    # not depend on the lookback.
    with warnings.catch_warnings(record=True) as said:  # the data's warnings, said here and not again below
        warnings.simplefilter("always")
        rows, target, freq = regular_rows(frame.copy(), data_cfg, source, builtin)
    _replay(said)
    first_test = split_borders(split, len(rows), 1, data_cfg.pred_len)["test"][0] + 1
    before_test = rows.iloc[:first_test]
    fc = auto_forecaster({"data": {**data_cfg.to_dict(), "target": target, "freq": freq, "date_col": "date"},
                          "auto_settings": {"train": train_settings, "seq_len": seq_len}})
    held = len(rows) - len(before_test)
    fc.data_name = f"the part of {Path(source).name} before its test split (the last {held} of its {len(rows)} rows)"
    log(f"auto: choosing on the {len(before_test)} rows before the test split of {Path(source).name} "
        f"(the test rows take no part)")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the data's warnings were said when the file was read
        fc.auto_choice = auto.choose(fc, before_test)  # settings or data it refuses stop the run here
        # Chosen, the run replaces an earlier one in the folder (a refused run leaves that whole). What `train
        # --resume` chooses again from if the fit stops before it is scored (the choice has no checkpoint) goes first.
        settings = {"data": {**data_cfg.to_dict(), "data": str(path.resolve()) if not builtin else data_cfg.data},
                    "train": dict(train_settings), "seq_len": seq_len}
        out.mkdir(parents=True, exist_ok=True)
        clear_run(out)
        write_json(out / CONFIG, {"model_name": AUTO, "auto_settings": settings, "refit": refit})
        fc.fit(before_test)  # the weighted candidates, each fit on every row before the test split
    train_seconds = time.perf_counter() - start
    if fc.intervals_note:  # what the intervals were fit on, or why there are none (a warning silenced above)
        log(fc.intervals_note)
    lookback = fc.data_cfg.seq_len
    data_cfg = dataclasses.replace(data_cfg, seq_len=lookback, label_len=min(data_cfg.label_len, lookback),
                                   target=target, scaler_rows=fit_train_rows(first_test, data_cfg.pred_len))
    with warnings.catch_warnings(record=True) as again:  # the same rows read again: the same warnings
        warnings.simplefilter("always")
        prepared = prepare_frame(frame, data_cfg, split, source, builtin, train_windows=0)
    _replay(again, skip={str(w.message) for w in said})
    n_test = len(prepared.splits["test"])
    if not data_cfg.test_windows and getattr(fc.model, "refits_per_window", False) and n_test > SPACED_TEST:
        # a statsforecast member fits a model per window and channel: every window of a long series takes hours
        data_cfg = dataclasses.replace(data_cfg, test_windows=SPACED_TEST)
        log(f"auto: {fc.model_name} refits a statistical model on every window: scoring {SPACED_TEST} evenly "
            f"spaced test windows of the {n_test} (--test-windows sets how many)")
    spec = next(iter(fc.series.values()))[0]
    if not (np.allclose(prepared.scaler.mean, spec.scaler.mean) and np.allclose(prepared.scaler.std,
                                                                                 spec.scaler.std)):
        raise DataError("model='auto' scaled the rows before the test split otherwise than the run does; "
                        "give --seq-len or another model")  # the two splits of the same rows: never expected
    precision, _ = fc.train_cfg.resolved_precision(model_device(fc.model), fc.model)
    run_config = {"model_name": fc.model_name, "model": fc.model.config.to_dict(), "series": fc.series_cfg.to_dict(),
                  "data": run_data(data_cfg, prepared), "train": dict(train_settings), "columns": prepared.columns,
                  "target_columns": prepared.target_columns, "refit": refit, "auto": fc.auto_report,
                  "auto_settings": settings,
                  "precision": precision, "device": str(model_device(fc.model))}
    write_json(out / CONFIG, run_config)
    log(f"auto: {fc.model_name} scored on the {n_test} test windows of "
        f"{Path(source).name} (lookback {lookback})")
    return finish_run(fc.model, fc.model_name, fc.model.config, prepared, data_cfg, fc.train_cfg, run_config, out,
                      precision, fc.intervals, None, fc.history, train_seconds, log)


def auto_forecaster(config: dict):
    """The unfitted Forecaster(model="auto") of a run config of ``train --model auto``: its data settings, the
    training settings the user gave and the candidates' lookback (``auto_settings``' "train" and "seq_len"; None:
    each chooses its own), so that a refit on every row builds its candidates as the scored run did
    (``final.refit_run`` hands it the run's choice)."""
    from ..forecaster import Forecaster

    data = config["data"]
    # runs scored before auto_settings was written kept the training settings and the lookback beside it
    settings = config.get("auto_settings") or {"train": config["train"], "seq_len": config.get("auto_seq_len")}
    return Forecaster(AUTO, seq_len=settings["seq_len"], pred_len=data["pred_len"], features=data["features"],
                      target=data["target"], freq=data["freq"], date_col=data["date_col"], embed=data["embed"],
                      fill=data["fill"], season=data["season"], **settings["train"])


def _replay(caught: list, skip: set[str] = frozenset()) -> None:
    """Warn again the warnings ``caught`` recorded, except those whose message is in ``skip`` (said already)."""
    for w in caught:
        if str(w.message) not in skip:
            warnings.warn(w.message, stacklevel=3)
