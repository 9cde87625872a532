"""Re-score a saved run: its test split as ``sparsecast evaluate`` prints it, or a table's figures that runs saved
before recording them lack (the evenly spaced test windows, the validation split)."""

from pathlib import Path

from ..data import DataConfig, prepare_data
from ..timefeatures import season_length
from ..training import METRIC_NAMES
from ..training.precision import model_width, resolve_precision
from ..training.trainer import EVAL_BATCH_SIZE
from .run_dir import load_run
from .scoring import SPACED_TEST, score, spaced_metrics, subset_metrics
from .skill import skill_report


def _rescore(run_dir: str | Path, split: str, batch_size: int, limit: int = 0) -> tuple:
    """A saved run's forecasts of ``split`` (``score``'s, in the precision it ran in), with its data."""
    model, config, _ = load_run(Path(run_dir))
    prepared = prepare_data(DataConfig(**config["data"]), train_windows=0)
    return prepared, *score(model, prepared, split, batch_size, config.get("precision") == "bf16", limit)[1:]


def score_spaced(run_dir: str | Path, batch_size: int = EVAL_BATCH_SIZE) -> dict | None:
    """A saved run's MSE / MAE on the SPACED_TEST evenly spaced test windows (for tables whose cells were run before
    runs recorded them)."""
    prepared, pred, true, _, index = _rescore(run_dir, "test", batch_size, SPACED_TEST)
    return spaced_metrics(pred, true, index, len(prepared.splits["test"]))


def score_split(run_dir: str | Path, split: str = "val", batch_size: int = EVAL_BATCH_SIZE) -> dict:
    """A saved run's MSE / MAE on every window of ``split`` (validation by default: for runs saved before their
    metrics recorded it)."""
    _, pred, true, _, _ = _rescore(run_dir, split, batch_size)
    return subset_metrics(pred, true, slice(None))


def evaluate_run(run_dir: str | Path, batch_size: int = EVAL_BATCH_SIZE, precision: str | None = None) -> dict:
    """Re-score a saved run on its test split, in the precision the run used (fp32 for runs saved before the
    choice) unless ``precision`` ("auto", "fp32", "bf16") says otherwise."""
    model, config, scaler = load_run(Path(run_dir))
    data = DataConfig(**config["data"])
    prepared = prepare_data(data, train_windows=0)  # a model with a long lookback may leave none (model="auto")
    chosen = precision or config.get("precision", "fp32")
    bf16 = resolve_precision(chosen, width=model_width(model))[0] == "bf16"
    test, _, _, _, index = score(model, prepared, "test", batch_size, bf16, data.test_windows)
    return {"test": {k: test[k] for k in METRIC_NAMES},
            "test_original_units": test["original_units"], "test_windows": test["windows"],
            "skill": skill_report(prepared, test, season_length(prepared.freq, data.season), index)}
