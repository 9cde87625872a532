"""Peer libraries on our LTSF windows: neuralforecast's models fit and scored on exactly the windows our table
scores, so a peer is one more column of ``sparsecast benchmark ltsf`` (variant ``nf:PatchTST``, ``nf:DLinear``...).

The adapter hands the peer our data as it sees it: every channel of the scaled series (our training-split scaler)
as one long-format series per channel, up to the last test row. The peer trains on the rows before the first test
origin, early-stopping on the last ``val`` rows of them (exactly our validation split's forecast rows), and
forecasts every test origin at stride 1 from the ``seq_len`` rows before it (``cross_validation`` with
``refit=False``). Its forecasts are then laid out as our (N, pred_len, C) test windows and scored by our metric
code on the normalized scale. neuralforecast is never a dependency of the package: it is imported only when a peer
runs (``pip install neuralforecast`` beside the pinned CPU torch).

Notation: N test windows, P pred_len, C channels.
"""

import json
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_path
from ..console import say
from ..data import PreparedData
from ..training import forecast_metrics
from .scoring import drop_last_metrics, spaced_metrics
from .run_dir import read_json, write_json

PEER_PREFIX = "nf:"
# neuralforecast's long-horizon tutorial settings: 1,000 steps, validation every 100, early stopping after 3 checks
# without improvement, a robust scaler per window; the lookback is the table's (input_size = seq_len).
NF_TRAIN = {"max_steps": 1000, "val_check_steps": 100, "early_stop_patience_steps": 3, "scaler_type": "robust"}
# Forecast rows (windows x channels x horizon) per cross-validation call. neuralforecast returns one long frame row
# per forecast value (about 150 bytes each with the copies it makes): weather at horizon 720, 148M rows, took 22 GB
# and was killed for memory. Past this many the test windows are forecast in runs of consecutive windows by the model
# trained once (the first call trains, the others reuse it: ``use_fitted``).
MAX_ROWS = 30_000_000


def locate_test_windows(prepared: PreparedData) -> tuple[int, int, int, int]:
    """Where our test windows lie in the full series: (first origin row, windows N, seq_len, pred_len)."""
    test = prepared.splits["test"]
    start, _ = prepared.borders["test"]
    return start + test.seq_len, len(test), test.seq_len, test.pred_len


def long_frame(prepared: PreparedData, end: int | None = None) -> pd.DataFrame:
    """Every channel's scaled values up to row ``end`` (exclusive; default: the last test row), as a long frame
    (unique_id = column, ds, y)."""
    end = prepared.borders["test"][1] if end is None else end
    scaled = _scaled_series(prepared)[:end]
    dates = prepared.dates[:end]
    return pd.concat([pd.DataFrame({"unique_id": col, "ds": dates, "y": scaled[:, k]})
                      for k, col in enumerate(prepared.columns)], ignore_index=True)


def _scaled_series(prepared: PreparedData) -> np.ndarray:
    """The whole scaled series (rows, C), stitched from the splits' rows (each split starts seq_len rows early)."""
    out = np.zeros((max(end for _, end in prepared.borders.values()), len(prepared.columns)), dtype=np.float32)
    for name, (start, end) in prepared.borders.items():
        out[start:end] = prepared.splits[name].values.numpy()  # overlapping rows hold the same values
    return out


def validation_rows(prepared: PreparedData) -> int:
    """Rows of our validation split that are forecast targets (its border, without the seq_len lookback)."""
    return prepared.borders["test"][0] + prepared.splits["test"].seq_len - prepared.borders["train"][1]


def windows_from_cv(cv: pd.DataFrame, prepared: PreparedData, column: str,
                    windows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A cross-validation frame (unique_id, ds, cutoff, y, <column>) as our test windows' (N, P, C) forecasts and
    truth, in our window order (origins ascending) and channel order, for our test windows [a, b) (default: all);
    checks the origins are theirs."""
    first, n_all, _, pred_len = locate_test_windows(prepared)
    a, b = windows or (0, n_all)
    n = b - a
    cutoffs = np.sort(cv["cutoff"].unique())
    expected = prepared.dates[first - 1 + a:first - 1 + b]  # a window's cutoff is the last row before its origin
    if len(cutoffs) != n or not (pd.DatetimeIndex(cutoffs) == pd.DatetimeIndex(expected)).all():
        raise ValueError(f"the peer forecast {len(cutoffs)} origins, not our {n} test origins {a}-{b - 1}")
    C = len(prepared.columns)
    order = {c: k for k, c in enumerate(prepared.columns)}
    cv = cv.assign(_k=cv["unique_id"].map(order)).sort_values(["cutoff", "_k", "ds"])
    pred = cv[column].to_numpy().reshape(n, C, pred_len).transpose(0, 2, 1)
    truth = cv["y"].to_numpy().reshape(n, C, pred_len).transpose(0, 2, 1)
    return pred, truth


def window_runs(n: int, rows_per_window: int, max_rows: int = MAX_ROWS) -> list[tuple[int, int]]:
    """Our test windows as runs [a, b) of consecutive windows, one per cross-validation call: all at once while their
    forecast rows fit ``max_rows``, else runs of at most ``max_rows`` rows."""
    size = max(1, n if n * rows_per_window <= max_rows else max_rows // rows_per_window)
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def peer_forecasts(prepared: PreparedData, cross_validate, column: str,
                   max_rows: int = MAX_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Every test window's (N, P, C) forecast and truth, a run of windows per call of ``cross_validate(df,
    n_windows, fitted)``: ``df`` ends with the run's last window, whose ``n_windows`` last origins are the run's; the
    first call trains (on the rows before the first test origin: the same for every run) and the later ones, with
    ``fitted`` True, forecast with the model trained then."""
    first, n, _, pred_len = locate_test_windows(prepared)
    preds, truths = [], []
    for a, b in window_runs(n, pred_len * len(prepared.columns), max_rows):
        cv = cross_validate(long_frame(prepared, end=first + b - 1 + pred_len), b - a, bool(preds))
        pred, truth = windows_from_cv(cv, prepared, column, (a, b))
        del cv
        preds.append(pred)
        truths.append(truth)
    return np.concatenate(preds), np.concatenate(truths)


def series_setting(cls, prepared: PreparedData) -> dict:
    """What a neuralforecast model class needs to know of the series: a multivariate one (TSMixer, iTransformer:
    ``MULTIVARIATE``) forecasts all channels jointly and takes their number."""
    return {"n_series": len(prepared.columns)} if getattr(cls, "MULTIVARIATE", False) else {}


# A peer's training state in its cell's run folder, so that a killed cell continues where it was (a weather cell at
# horizon 720 trains for longer than a session on one CPU thread): Lightning's checkpoint of the training (weights,
# optimizer, schedule, step, early-stopping count) every few minutes, the trained weights once training ends, and
# the cell's setting with the training seconds spent so far. Removed when the cell is scored.
LAST, TRAINED, STATE = "peer_last.ckpt", "peer_trained.safetensors", "peer_state.json"


def _checkpoints(folder: Path, minutes: float, val_every: int):
    """A Lightning callback writing the training's checkpoint to ``folder`` every ``minutes`` of training (0: after
    every step) and the trained weights at its end, each file replaced atomically."""
    import pytorch_lightning as pl
    from safetensors.torch import save_file

    class Checkpoints(pl.Callback):
        def __init__(self):
            self.last = time.monotonic()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            # Every val_every steps a validation follows this hook within the same step: a checkpoint written here
            # would hold the step without it, and the resumed run would never run that validation.
            if trainer.global_step % val_every and time.monotonic() - self.last >= minutes * 60:
                with atomic_path(folder / LAST) as tmp:
                    trainer.save_checkpoint(tmp)
                self.last = _add_seconds(folder, self.last)

        def on_save_checkpoint(self, trainer, pl_module, checkpoint):
            # the model's constructor arguments (loss objects...) would need unpickling to load again: the model is
            # built by the same code when the cell runs again, so its checkpoint holds tensors and plain values only
            for key in ("hyper_parameters", "hparams_name"):
                checkpoint.pop(key, None)

        def on_train_end(self, trainer, pl_module):
            weights = {k: v.detach().clone().contiguous() for k, v in pl_module.state_dict().items()}
            with atomic_path(folder / TRAINED) as tmp:
                save_file(weights, tmp)
            _add_seconds(folder, self.last)

    return Checkpoints()


def _state(folder: Path) -> dict:
    path = folder / STATE
    return read_json(path) if path.is_file() else {}


def _write_state(folder: Path, setting: dict, seconds: float) -> None:
    write_json(folder / STATE, {"setting": setting, "seconds": seconds})


def _add_seconds(folder: Path, since: float) -> float:
    """Add the training seconds since ``since`` (a monotonic time) to the cell's state; returns now."""
    now, state = time.monotonic(), _state(folder)
    _write_state(folder, state["setting"], state["seconds"] + now - since)
    return now


def _clear(folder: Path) -> None:
    for name in (LAST, TRAINED, STATE):
        (folder / name).unlink(missing_ok=True)


@contextmanager
def _resumable_fit(folder: Path):
    """While inside, a Lightning fit continues from ``folder``'s checkpoint, or, where training had ended, loads the
    trained weights and trains no more."""
    import pytorch_lightning as pl
    from safetensors.torch import load_file

    fit = pl.Trainer.fit

    def resuming_fit(trainer, model, *args, **kwargs):
        if (folder / TRAINED).is_file():
            model.load_state_dict(load_file(str(folder / TRAINED)))
            return None
        if (folder / LAST).is_file():  # tensors and plain values only (see on_save_checkpoint)
            kwargs["ckpt_path"], kwargs["weights_only"] = str(folder / LAST), True
        return fit(trainer, model, *args, **kwargs)

    pl.Trainer.fit = resuming_fit
    try:
        yield
    finally:
        pl.Trainer.fit = fit


def resumed(folder: Path | None) -> bool:
    """Whether a peer cell's run folder holds training state from an earlier, stopped process."""
    return folder is not None and any((folder / f).is_file() for f in (LAST, TRAINED))


def _resume_or_start(folder: Path, setting: dict, log) -> bool:
    """Whether the cell continues from ``folder``'s state: only where it was saved for the same ``setting`` (else
    it is cleared, and the cell starts afresh with the setting recorded)."""
    if resumed(folder):
        if _state(folder).get("setting") == setting:
            log(f"continuing the stopped peer in {folder} from its last checkpoint")
            return True
        log(f"the training state in {folder} was saved for another setting; starting afresh")
    _clear(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_state(folder, setting, 0.0)
    return False


def run_peer(name: str, prepared: PreparedData, seed: int, threads: int = 0, run_dir: Path | None = None,
             checkpoint_minutes: float = 10.0, train_steps: dict | None = None, log=say) -> dict:
    """Fit neuralforecast's model ``name`` on our training and validation rows and score it on our test windows.

    With ``run_dir`` the training is checkpointed there every ``checkpoint_minutes`` and a stopped cell continues
    from its last checkpoint, where it was saved for the same setting; not bit for bit: neuralforecast seeds its
    sampler again at every fit, so the batches after a resume repeat those of the first steps. ``seconds`` then
    adds the training time the earlier processes spent. ``train_steps`` overrides NF_TRAIN (tests: fewer steps).
    """
    import torch
    from neuralforecast import NeuralForecast, models

    if threads:
        torch.set_num_threads(threads)
    _, n, seq_len, pred_len = locate_test_windows(prepared)
    train = {**NF_TRAIN, **(train_steps or {})}
    cls = getattr(models, name)
    extra, was_resumed, earlier = {}, False, 0.0
    if run_dir is not None:
        setting = json.loads(json.dumps({"model": name, "h": pred_len, "input_size": seq_len, "seed": seed,
                                         "train": train, "val_size": validation_rows(prepared),
                                         "columns": prepared.columns, "rows": prepared.borders["test"][1],
                                         "last_date": str(prepared.dates[prepared.borders["test"][1] - 1])}))
        was_resumed = _resume_or_start(run_dir, setting, log)
        earlier = _state(run_dir)["seconds"]
        extra["callbacks"] = [_checkpoints(run_dir, checkpoint_minutes, train["val_check_steps"])]
    model = cls(h=pred_len, input_size=seq_len, random_seed=seed, enable_progress_bar=False, enable_model_summary=False,
                logger=False, accelerator="cpu", **train, **series_setting(cls, prepared), **extra)
    nf = NeuralForecast(models=[model], freq=prepared.freq)
    start = time.perf_counter()
    with _resumable_fit(run_dir) if run_dir is not None else nullcontext():
        pred, truth = peer_forecasts(prepared, lambda df, n_windows, fitted: nf.cross_validation(
            df=df, n_windows=n_windows, step_size=1, val_size=validation_rows(prepared), refit=False,
            use_fitted=fitted), name)
    seconds = time.perf_counter() - start + earlier
    ours = prepared.splits["test"].batch(torch.arange(n)).y.numpy()
    if not np.allclose(truth, ours, atol=1e-5):
        raise ValueError("the peer's truth differs from our test windows'")
    if run_dir is not None:
        _clear(run_dir)
        if not any(run_dir.iterdir()):
            run_dir.rmdir()
    return {"test": {k: forecast_metrics(pred, truth)[k] for k in ("mse", "mae")}, "seconds": seconds,
            "test_windows": n, "test_spaced": spaced_metrics(pred, truth, torch.arange(n), n),
            "test_drop_last": drop_last_metrics(pred, truth, torch.arange(n), n), "resumed": was_resumed,
            "settings": {"model": name, "input_size": seq_len, **train}}
