"""A run folder: config.json, scaler.json, model.safetensors, intervals.json, metrics.json, history.json, plots, a
checkpoint while it trains, and ``final/``, the model refit on every row (series.json: a Forecaster's saved series).

Loading never unpickles: weights come from safetensors, everything else from JSON.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: run a table's cells in one process
    fcntl = None

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..atomic import atomic_path
from ..data import StandardScaler
from ..errors import CheckpointError
from ..models import model_classes
from ..models.registry import AUTO, build_saved
from .intervals import Intervals

WEIGHTS, CONFIG, SCALER, METRICS, HISTORY = "model.safetensors", "config.json", "scaler.json", "metrics.json", \
    "history.json"
CHECKPOINT, INTERVALS = "checkpoint.safetensors", "intervals.json"
SERIES = "series.json"  # a Forecaster's per-series scalers and recent rows, written last by Forecaster.save
LOSS_PLOT, FORECAST_PLOT, SPARSITY_PLOT = "loss.png", "forecasts.png", "active_queries.png"
FINAL = "final"  # the model refit on every row (``final.refit_run``), a run folder of its own
RUN_FILES = (WEIGHTS, CONFIG, SCALER, METRICS, HISTORY, CHECKPOINT, INTERVALS, SERIES, LOSS_PLOT, FORECAST_PLOT,
             SPARSITY_PLOT)  # what a run writes in its folder


def clear_final(run_dir: str | Path) -> None:
    """Remove a refit model a new run in the same folder would otherwise leave for predict to find (its files, and
    the folder where nothing else is in it)."""
    _remove_run_files(Path(run_dir) / FINAL)
    try:
        (Path(run_dir) / FINAL).rmdir()
    except OSError:  # absent, or holding files that are not a run's
        pass


def clear_run(run_dir: str | Path) -> None:
    """Remove what an earlier run left in ``run_dir`` (its files and refit model; nothing else there), so that a new
    run in the folder replaces it whole: a run stopped before it writes, or one that writes fewer files (no loss
    curve for a statistical model), leaves none of the earlier run's for ``evaluate``, ``predict`` or ``--resume``."""
    _remove_run_files(Path(run_dir))
    clear_final(run_dir)


def _remove_run_files(folder: Path) -> None:
    for name in RUN_FILES:
        (folder / name).unlink(missing_ok=True)


def write_json(path: Path, obj) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=2)


def read_results(path: Path) -> dict:
    """A results table's JSON object (``record_result``'s), empty when none was written yet."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {}


def record_result(path: Path, key: str, value, merge: bool | Callable[[dict, dict], dict] = False) -> dict:
    """Set ``key`` in the JSON object of ``path`` and return the whole object, merged under a file lock with what
    other processes wrote meanwhile (a table's cells may run in several processes at once). With ``merge`` a dict
    ``value`` updates the key's dict instead of replacing it, so two processes adding different models to the same
    entry keep both; a function ``merge(on_disk, value)`` gives the entry itself (for nested parts), called under the
    lock with the entry as it is on disk ({} when there is none)."""
    path = Path(path)
    with open(path.with_suffix(".lock"), "w") as lock:
        if fcntl:
            fcntl.flock(lock, fcntl.LOCK_EX)
        results = read_results(path)
        old = results.get(key, {})
        results[key] = merge(old, value) if callable(merge) else {**old, **value} if merge else value
        write_json(path, results)
    return results


@contextmanager
def claim(path: Path) -> Iterator[bool]:
    """Hold ``path`` (a lock file) for the block if no other process holds it: yields True, or False at once when
    another process has it (a table's cell being trained elsewhere). Always True without ``fcntl``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        if fcntl is None:
            yield True
            return
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as e:
        raise CheckpointError(f"{path} not found: is {Path(path).parent} a sparsecast run folder?") from e
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path} is not valid JSON (truncated?): {e}") from e


def save_weights(model: nn.Module, run_dir: Path) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}  # loads on any machine
    with atomic_path(Path(run_dir) / WEIGHTS) as tmp:
        save_file(state, tmp)


def save_run(run_dir: Path, model: nn.Module, config: dict, scaler: StandardScaler) -> None:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / CONFIG, config)
    write_json(run_dir / SCALER, scaler.to_dict())
    save_weights(model, run_dir)


def build_model(config: dict) -> nn.Module:
    """The (untrained) model a run config describes, with its series wrappers (absent in older runs: none)."""
    if "series" not in config:  # a language model's run, or a forecasting run from before the wrappers
        model_cls, cfg_cls = model_classes(config["model_name"])
        return model_cls(cfg_cls.from_dict(config["model"]))
    return build_saved(config["model_name"], config["model"], config["series"], len(config["columns"]),
                       len(config["target_columns"]))


def load_run(run_dir: Path) -> tuple[nn.Module, dict, StandardScaler]:
    """The trained forecaster (in eval mode), its run config and the scaler of a run folder.

    Raises:
        CheckpointError: missing or truncated files, or weights that do not fit the configured model.
    """
    model, config = load_model(run_dir)
    return model, config, StandardScaler.from_dict(read_json(Path(run_dir) / SCALER))


def load_model(run_dir: Path) -> tuple[nn.Module, dict]:
    """The trained model of a run folder (in eval mode) and its run config."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run folder not found: {run_dir}")
    config = read_json(run_dir / CONFIG)
    if config.get("model_name") == AUTO:  # what train_auto_run writes before its choice is made
        raise CheckpointError(f"{run_dir} is a --model auto run stopped before it was scored: sparsecast train "
                              f"--resume {run_dir} finishes it")
    try:
        model = build_model(config)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{run_dir / CONFIG} does not describe a model sparsecast can build: {e}") from e
    weights = run_dir / WEIGHTS
    if not weights.is_file() and (run_dir / CHECKPOINT).is_file():
        raise CheckpointError(f"{run_dir} is a run stopped before its training finished (it has a checkpoint, no "
                              f"trained weights yet): sparsecast train --resume {run_dir} finishes it")
    if not weights.is_file():
        raise CheckpointError(f"{weights} not found")
    try:
        state = load_file(weights)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"cannot read {weights} (truncated or not safetensors): {e}") from e
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"{weights} does not match the model in {run_dir / CONFIG} "
                              f"(a checkpoint from another model or config): {str(e).splitlines()[0]}") from e
    return model.eval(), config


def save_intervals(run_dir: Path, intervals: Intervals | None) -> None:
    """Write a run's prediction intervals, or remove a stale file when it has none."""
    path = Path(run_dir) / INTERVALS
    path.unlink(missing_ok=True)
    if intervals is not None:
        write_json(path, intervals.to_dict())


def load_intervals(run_dir: Path) -> Intervals | None:
    """The prediction intervals a run folder holds, or None (runs saved before they existed)."""
    path = Path(run_dir) / INTERVALS
    return Intervals.from_dict(read_json(path)) if path.is_file() else None
