"""The model that forecasts the real future: a run's model fit again on every row of its data.

``sparsecast train`` scores a model trained on the first part of the data (a CSV's first 70%; the rest is
validation and test), so its test scores are honest; but that model has never seen the newest rows, the ones a
forecast of the future depends on most. On a user's CSV the command then fits the same model, with the same
settings, on every row (the last 10% held out for early stopping, as ``Forecaster.fit`` does) and saves it in
``<run>/final``: what ``predict`` and ``export`` use. ``evaluate`` and ``backtest`` keep the scored model, whose
test rows it never saw.
"""

import warnings
from pathlib import Path

from ..console import say
from ..data import DataConfig, read_table
from ..data.datasets import resolve_path
from .run_dir import CHECKPOINT, CONFIG, FINAL, SERIES, clear_final, read_json


def data_path(config: dict) -> Path:
    """The data file a run read: its CSV, or a built-in dataset's file (bundled, or under its root path)."""
    data = config["data"]
    return resolve_path(DataConfig(data=data["data"], root_path=data.get("root_path")))[0]


def read_user_frame(path: str | Path, date_col: str, file_col: str | None = None):
    """A data file as the frame a user would hand a Forecaster: its time column named ``date_col`` (``read_table``
    renames it 'date'); ``file_col``: the file's own name for it, where that differs."""
    return read_table(path, file_col or date_col).rename(columns={"date": date_col})


def refit_run(run_dir: str | Path, resume: bool = False) -> Path:
    """Fit the run's model again on every row of its data file and save it to ``run_dir/final``; returns that
    folder. The model's settings are the run's, including those its start chose on validation (a run of
    model="auto" fits the choice it scored: its weighted candidates, each fit on every row).

    The refit checkpoints as ``train`` does (``final/checkpoint.safetensors``, removed once the model is saved):
    ``resume=True`` continues a refit that was stopped from there (a fresh refit where there is none).
    """
    from ..forecaster import Forecaster  # the API sits above this package

    run_dir = Path(run_dir)
    final, checkpoint = run_dir / FINAL, run_dir / FINAL / CHECKPOINT
    resume = resume and checkpoint.is_file()
    if not resume:
        clear_final(run_dir)
    final.mkdir(parents=True, exist_ok=True)
    config = read_json(run_dir / CONFIG)
    frame = read_user_frame(data_path(config), config["data"]["date_col"])
    if config.get("auto") is not None:  # train --model auto: the candidates the scored run weighted, on every row
        from .auto import describe_weights
        from .auto_run import auto_forecaster
        fc = auto_forecaster(config)
        fc.auto_choice = config["auto"]
        say(f"auto: fitting the choice the run scored ({describe_weights(config['auto']['weights'])}) on every row, "
            "without validating again")
    else:
        fc = Forecaster.from_config(config)
    fc.with_intervals = bool(fc.train_cfg.quantiles)  # none asked for: none fit, and no warning that there are none
    fc.notes = False  # train said them
    with warnings.catch_warnings():  # the data's warnings (filled gaps...) were printed by train already
        warnings.simplefilter("ignore", UserWarning)
        fc.fit(frame, checkpoint=checkpoint, resume=resume)
    fc.save(final)
    checkpoint.unlink(missing_ok=True)
    return final


def refit_finished(run_dir: str | Path) -> bool:
    """Whether the run has a refit model, saved to the end (``Forecaster.save`` writes SERIES last)."""
    return (Path(run_dir) / FINAL / SERIES).is_file()


def forecast_dir(run_dir: str | Path) -> Path:
    """The folder of the model that forecasts the future: ``run_dir/final`` where ``train`` refit one (and finished
    saving it), else the run folder itself."""
    final = Path(run_dir) / FINAL
    return final if refit_finished(run_dir) else Path(run_dir)  # a folder without SERIES is unfinished
