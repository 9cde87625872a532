"""The model that forecasts the real future: a run's model fit again on every row of its data.

``sparsecast train`` scores a model trained on the first 70% of a CSV (the rest is validation and test), so its test
scores are honest; but that model has never seen the newest rows, the ones a forecast of the future depends on most.
On a user's CSV the command then fits the same model, with the same settings, on every row (the last 10% held out
for early stopping, as ``Forecaster.fit`` does) and saves it in ``<run>/final``: what ``predict`` and ``export``
use. ``evaluate`` and ``backtest`` keep the scored model, whose test rows it never saw.
"""

from pathlib import Path

from ..data import read_table
from .run_dir import CONFIG, read_json

FINAL = "final"


def refit_run(run_dir: str | Path) -> Path:
    """Fit the run's model again on every row of its data file and save it to ``run_dir/final``; returns that
    folder. The model's settings are the run's, including those its start chose on validation."""
    from ..forecaster import Forecaster  # the API sits above this package

    run_dir = Path(run_dir)
    config = read_json(run_dir / CONFIG)
    date_col = config["data"]["date_col"]
    frame = read_table(config["data"]["data"], date_col).rename(columns={"date": date_col})
    fc = Forecaster.from_config(config)
    fc.with_intervals = bool(fc.train_cfg.quantiles)  # none asked for: none fit, and no warning that there are none
    fc.notes = False  # train said them
    fc.fit(frame)
    fc.save(run_dir / FINAL)
    return run_dir / FINAL


def forecast_dir(run_dir: str | Path) -> Path:
    """The folder of the model that forecasts the future: ``run_dir/final`` where ``train`` refit one, else the
    run folder itself."""
    final = Path(run_dir) / FINAL
    return final if (final / CONFIG).is_file() else Path(run_dir)
