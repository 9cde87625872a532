"""Train, score and save one forecasting run; resume a killed one."""

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from ..console import say
from ..data import BUILTIN, DataConfig, PreparedData, prepare_data
from ..errors import CheckpointError, DataError, SparsecastError
from ..models import SERIES_FIELDS, model_classes, series_config, unwrap, wrap
from ..models.registry import STATISTICAL, covariates_note
from ..reference import paper_row
from ..training import METRIC_NAMES, TrainConfig, fit, seed_everything
from ..timefeatures import season_length
from ..training.distributed import Distributed
from ..training.precision import device_label
from ..training.schedules import unused_settings
from ..training.trainer import model_device
from . import plots
from .intervals import STATISTICAL_WINDOWS, fit_intervals, predict_windows
from .scoring import drop_last_metrics, score, spaced_metrics, subset_metrics
from .skill import baseline_scores, skill_report
from .run_dir import (CHECKPOINT, CONFIG, FORECAST_PLOT, HISTORY, LOSS_PLOT, METRICS, SPARSITY_PLOT, clear_run,
                      read_json, save_intervals, save_run, write_json)


# Model settings fixed by the data rather than chosen by the user.
FROM_DATA = ("enc_in", "dec_in", "c_out", "seq_len", "label_len", "pred_len", "freq", "embed", "season")
# The Informer's flags for a user's own series: neuralforecast's Informer sizes with RevIN (the paper's sizes and global
# scaling beat seasonal naive on 65 of 111 real series, these on 82: benchmarks/results/univariate/README.md).
INFORMER_OWN_SERIES = "--revin --d-model 128 --n-heads 4 --d-ff 32 --factor 3"


def user_settings(config: dict) -> dict:
    """The settings of a saved run config that the user chose: the model's (everything the data does not fix, read
    through the config class, so settings a run saved before they existed keep the values it was trained with) and
    the series wrappers'."""
    _, cfg_cls = model_classes(config["model_name"])
    model = cfg_cls.from_dict(config["model"]).to_dict()
    return {**{k: v for k, v in model.items() if k not in FROM_DATA}, **config.get("series", {})}


def saved_train_config(config: dict) -> TrainConfig:
    """The TrainConfig of a saved run, with the precision and the device it resolved to (fp32 on the CPU for runs
    saved before the choices), so a resumed run keeps computing as it began; a run begun on a GPU resumes only where
    that GPU is (else it stops with one line)."""
    return TrainConfig(**{**config["train"], "precision": config.get("precision", "fp32"), "bf16": False,
                          "device": config.get("device", "cpu")})


def model_config(model_name: str, params: dict, data_cfg: DataConfig, prepared: PreparedData,
                 channel_independent: bool = False):
    """The model's config: what the data fixes (channels, lengths, frequency) plus the user's ``params``.

    A channel-independent model is built for one channel in and out (``models/series.py`` feeds it each channel).
    """
    _, cfg_cls = model_classes(model_name)
    n_in, n_out = (1, 1) if channel_independent else (len(prepared.columns), len(prepared.target_columns))
    from_data = dict(zip(FROM_DATA, (n_in, n_in, n_out, data_cfg.seq_len, data_cfg.label_len, data_cfg.pred_len,
                                     prepared.freq, data_cfg.embed)))
    names = {f.name for f in dataclasses.fields(cfg_cls)}
    if "season" in names and data_cfg.season:  # --season is the statistical models' season, too
        from_data["season"] = data_cfg.season
    unknown = set(params) - names
    if unknown:
        raise ValueError(f"model {model_name!r} has no setting(s) {sorted(unknown)}")
    return cfg_cls(**{k: v for k, v in from_data.items() if k in names}, **params)


def build_forecaster(model_name: str, settings: dict, data_cfg: DataConfig, prepared: PreparedData):
    """The model for these data with the user's ``settings`` (model and series ones), wrapped as they ask.

    Returns:
        the model (a SeriesModel when RevIN or channel independence apply), its config and the SeriesConfig.
    """
    series = series_config(model_name, {k: settings[k] for k in SERIES_FIELDS if k in settings}, prepared.freq)
    if series.deseason and not series.profile_len:  # the profile's length is the data's season
        series = dataclasses.replace(series, profile_len=season_length(prepared.freq, data_cfg.season))
    params = {k: v for k, v in settings.items() if k not in SERIES_FIELDS}
    cfg = model_config(model_name, params, data_cfg, prepared, series.channel_independent)
    model_cls, _ = model_classes(model_name)
    model = wrap(model_cls(cfg), series, len(prepared.columns), len(prepared.target_columns))
    return model, cfg, series


def _quiet(*args, **kwargs) -> None:
    pass


def paper_comparison(data_cfg: DataConfig) -> dict | None:
    row = paper_row(data_cfg.data, data_cfg.features, data_cfg.pred_len)
    if row is None:
        return None
    same = (row["seq_len"], row["label_len"]) == (data_cfg.seq_len, data_cfg.label_len)
    return {"mse": row["paper_mse"], "mae": row["paper_mae"], "seq_len": row["seq_len"],
            "label_len": row["label_len"], "same_setting": same}


def run_data(data_cfg: DataConfig, prepared: PreparedData) -> dict:
    """The data settings a run folder records: the config's, with the frequency and target the data gave and the
    CSV's absolute path (so that the run's commands find it from any folder)."""
    data = {**data_cfg.to_dict(), "freq": prepared.freq, "target": prepared.target_columns[-1]}
    if Path(data_cfg.data).is_file():
        data["data"] = str(Path(data_cfg.data).resolve())
    return data


def train_run(data_cfg: DataConfig, model_name: str, model_params: dict, train_cfg: TrainConfig, out: str | Path,
              log=say, dist: Distributed | None = None, resume: bool = False, refit: bool = False,
              frame=None) -> dict:
    """Train a model on ``data_cfg``, write the run folder ``out`` and return its metrics.

    ``refit`` is recorded in config.json: whether the caller (``sparsecast train``) fits the model again on every row
    after scoring it, so that ``--resume`` finishes what the run set out to do. ``frame``: the data file as
    ``read_table`` read it already (the command line reads a user's CSV to choose the lookback), not read again.

    ``config.json`` is written first and a checkpoint after every epoch and every ``train_cfg.checkpoint_minutes``
    inside one (removed when the run completes), so a run that was killed continues with ``resume=True`` and ends as
    it would have (bit for bit on the CPU; a GPU's dropout draws and atomic backward sums are not replayed). With
    ``dist`` (a process of a torchrun job) the model trains under DistributedDataParallel, each process on its share
    of every batch; the first process alone checkpoints, evaluates the test split and writes
    the run folder.
    """
    out = Path(out)
    dist = dist or Distributed()
    if dist.world_size > 1 and train_cfg.max_minutes:
        raise ValueError("max_minutes does not combine with --ddp: the processes would stop at different steps")
    if train_cfg.train_on_val:
        raise ValueError("train_on_val is a Forecaster setting (Forecaster(..., train_on_val=True)): a run scored on "
                         "a test split trains on its training windows and early-stops on its validation ones")
    made = _missing_folders(out)  # the folders this run creates: removed again if the input is refused
    if dist.is_main:
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe = out / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as e:
            raise DataError(f"cannot write to the output folder {out}: {e.strerror}") from e
    else:
        log = _quiet
    seed_everything(train_cfg.seed)
    if train_cfg.threads:
        torch.set_num_threads(train_cfg.threads)
    try:
        prepared = prepare_data(data_cfg, frame)
        model, model_cfg, series = build_forecaster(model_name, model_params, data_cfg, prepared)
    except (SparsecastError, ValueError):
        for folder in made if dist.is_main else ():  # bad input stops before anything is written, the folder too
            try:
                folder.rmdir()  # only if empty
            except OSError:
                break
        raise
    run_config = {"model_name": model_name, "model": model_cfg.to_dict(), "series": series.to_dict(),
                  "data": run_data(data_cfg, prepared),
                  "train": train_cfg.to_dict(), "columns": prepared.columns,
                  "target_columns": prepared.target_columns, "refit": refit}
    n_params = sum(p.numel() for p in model.parameters())
    wrappers = "".join(f", {w}" for w, on in (("RevIN", series.revin), ("channel-independent",
                                                                          series.channel_independent)) if on)
    device = dist.device(train_cfg.device) if n_params else torch.device("cpu")  # where fit trains
    train_cfg = dataclasses.replace(train_cfg, device=str(device)) if dist.world_size > 1 else train_cfg
    precision, why = train_cfg.resolved_precision(device, model)
    run_config["precision"], run_config["device"] = precision, str(device)
    if dist.is_main and not resume:
        clear_run(out)  # an earlier run's files are not this run's (the input was checked: a refused one keeps them)
        write_json(out / CONFIG, run_config)
    on = f", on {device_label(device)}" if device.type != "cpu" else ""
    on += f", {train_cfg.loss} loss" if train_cfg.loss != "mse" else ""
    log(f"{model_name}{wrappers} ({n_params / 1e6:.2f}M parameters, {precision}: {why}{on}) on {data_cfg.data} "
        f"features {data_cfg.features}, "
        f"seq/label/pred {data_cfg.seq_len}/{data_cfg.label_len}/{data_cfg.pred_len}; "
        f"windows train/val/test {len(prepared.splits['train'])}/{len(prepared.splits['val'])}/"
        f"{len(prepared.splits['test'])}")
    note = data_cfg.features == "MS" and covariates_note(
        model_name, series.channel_independent, prepared.target_columns[-1],
        [c for c in prepared.columns if c not in prepared.target_columns])
    if note:
        log(note)
    if model_name in STATISTICAL and model_name != "seasonal_naive":
        n_test = min(data_cfg.test_windows or len(prepared.splits["test"]), len(prepared.splits["test"]))
        held = f" (and up to {STATISTICAL_WINDOWS} windows for the intervals)" if train_cfg.quantiles else ""
        log(f"{model_name} is refit on each window's lookback: {n_test * len(prepared.target_columns)} fits to score "
            f"the test split{held}; this can take a while on long series")
    start = time.perf_counter()
    history = None
    refits = model_name in STATISTICAL or getattr(model, "refits_per_window", False)
    val_kept = [] if dist.is_main and not refits else None  # fit's validation forecasts of the kept weights
    if n_params:
        train = prepared.splits["train"].loader(train_cfg.batch_size, shuffle=True, seed=train_cfg.seed,
                                                rank=dist.rank, world_size=dist.world_size)
        val = prepared.splits["val"].loader(train_cfg.eval_batch_size)
        ckpt = out / CHECKPOINT
        if resume and not ckpt.is_file():
            raise CheckpointError(f"no checkpoint to resume from in {out} (it is removed when a run completes)")
        if dist.world_size > 1 and hasattr(model, "init_from_data") and not resume:
            # Every process fits the same closed-form start on all training windows (fit cannot see it through
            # DistributedDataParallel, and each process's loader holds only its share); no initial candidate then.
            full = prepared.splits["train"].loader(train_cfg.eval_batch_size)
            model.init_from_data(full, val)
        if dist.world_size > 1:
            model.to(device)  # DistributedDataParallel wraps a model already on its device
        try:
            history = fit(dist.wrap(model), train, val, train_cfg, log=log,
                          checkpoint=ckpt if dist.is_main else None, resume=resume, val_predictions=val_kept)
        except FloatingPointError as e:
            kept = f"; the last good epoch is in {ckpt} (sparsecast train --resume {out})" if ckpt.is_file() else ""
            raise FloatingPointError(f"{e}{kept}") from e
    elif hasattr(model, "init_from_data"):  # nothing to train, but fit from the data (a seasonal profile)
        model.init_from_data(prepared.splits["train"].loader(train_cfg.eval_batch_size),
                             prepared.splits["val"].loader(train_cfg.eval_batch_size))
    train_seconds = time.perf_counter() - start
    if resume and history:  # the epochs before the checkpoint ran in an earlier process
        train_seconds = sum(history.epoch_seconds)
    if not dist.is_main:
        return {}
    bf16 = precision == "bf16"
    # The kept weights' forecasts of every validation window (not for a model refit per window: slow), read twice:
    # their MSE / MAE whatever loss trained the model (what choosing between losses compares), and the intervals.
    # Training's validation pass computed them already where it validated the kept weights.
    val = prepared.splits["val"]
    val_forecasts = None if refits or not len(val) else predict_windows(model, val.loader(train_cfg.eval_batch_size),
                                                                         bf16, val_kept[0] if val_kept else None)
    val_scores = None if val_forecasts is None else subset_metrics(*val_forecasts[:2], slice(None))
    intervals, note = fit_intervals(model, prepared.splits["train"], val, train_cfg.quantiles,
                                    train_cfg.eval_batch_size, bf16, val_forecasts)  # never from the test windows
    log(note)
    return finish_run(model, model_name, model_cfg, prepared, data_cfg, train_cfg, run_config, out, precision,
                      intervals, val_scores, history, train_seconds, log)


def finish_run(model, model_name: str, model_cfg, prepared: PreparedData, data_cfg: DataConfig,
               train_cfg: TrainConfig, run_config: dict, out: Path, precision: str, intervals,
               val_scores: dict | None, history, train_seconds: float, log=say) -> dict:
    """Score a fitted model on the test split and write the run folder: weights, config, scaler, intervals,
    metrics.json (test scores, baselines, skill, seconds), history and plots; returns the metrics."""
    bf16 = precision == "bf16"
    start = time.perf_counter()
    test, pred, true, scale, index = score(model, prepared, "test", train_cfg.eval_batch_size, bf16,
                                           data_cfg.test_windows)
    test_seconds = time.perf_counter() - start
    bands = intervals.quantiles(pred, scale, slice(-1, None)) if intervals else None  # (N, P, 1, Q): the plot's
    # channel only (every channel's quantiles of every test window can be gigabytes)
    season = season_length(prepared.freq, data_cfg.season)
    skill = skill_report(prepared, test, season, index)
    naive_val = baseline_scores(prepared, "val", season).get("seasonal_naive")
    best_val = history.best_val_loss if history else None
    val_mse = val_scores["mse"] if val_scores else None  # MSE whatever loss trained it
    if naive_val and val_mse is not None and val_mse >= naive_val["mse"] and val_mse > 0:  # both exact: a tie
        log(f"warning: {model_name} does not beat seasonal naive (season {season}) on validation: MSE "
            f"{val_mse:.4f} against {naive_val['mse']:.4f}; its forecasts have no skill over repeating the last "
            f"season")
        if model_name == "informer" and not run_config["series"].get("revin") and data_cfg.data not in BUILTIN:
            log(f"hint: on a series of your own the Informer forecasts better with each window scaled on its own and "
                f"small sizes: {INFORMER_OWN_SERIES} beat seasonal naive on more of the real series in "
                f"benchmarks/results/univariate than the paper's sizes")
    run_config["model"] = getattr(model, "config", model_cfg).to_dict()  # with what its start chose
    save_run(out, model, run_config, prepared.scaler)
    save_intervals(out, intervals)
    metrics = {
        "test": {k: test[k] for k in METRIC_NAMES},
        "test_original_units": test["original_units"],
        "test_windows": test["windows"],
        "test_start": str(prepared.dates[prepared.borders["test"][0] + data_cfg.seq_len]),  # first forecast row
        "test_spaced": spaced_metrics(pred, true, index, len(prepared.splits["test"])),
        "test_drop_last": drop_last_metrics(pred, true, index, len(prepared.splits["test"])),
        "val": val_scores,
        "val_loss": history.val_loss if history else None,
        "initial_val_loss": history.initial_val_loss if history else None,
        "best_val_loss": best_val,
        "best_epoch": history.best_epoch + 1 if history else None,
        "stopped_for_time": history.stopped_for_time if history else False,
        "seconds": {"train_and_val": train_seconds, "test": test_seconds,
                    "per_epoch": history.epoch_seconds if history else []},
        "paper": paper_comparison(data_cfg),
        "skill": skill,
        "intervals": intervals.scores(pred, scale, true) if intervals else None,
        "precision": precision,
    }
    write_json(out / METRICS, metrics)
    if history:
        write_json(out / HISTORY, dataclasses.asdict(history))
        plots.plot_losses(out / LOSS_PLOT, history.train_loss, history.val_loss)
        (out / CHECKPOINT).unlink(missing_ok=True)
    _plot_test(out / FORECAST_PLOT, prepared, pred, true, index, bands, intervals.levels if intervals else ())
    _plot_sparsity(out / SPARSITY_PLOT, model, prepared)
    return metrics


@torch.no_grad()
def _plot_sparsity(path: Path, model, prepared: PreparedData) -> None:
    """For models with ProbSparse encoder layers: which queries were active on the first test window."""
    inner = unwrap(model)
    if not hasattr(inner, "active_queries"):
        return
    model.eval()
    model(**prepared.splits["test"].batch(torch.tensor([0])).to(model_device(model)).inputs())
    active = inner.active_queries()
    if not active or any(a is None for a in active):
        return
    lengths = [kernel.last_length for kernel in inner.encoder_kernels()]
    plots.plot_active_queries(path, [a[0].cpu().numpy() for a in active], lengths)


def _plot_test(path: Path, prepared: PreparedData, pred: np.ndarray, true: np.ndarray, index: torch.Tensor,
               bands: np.ndarray | None, levels: tuple[float, ...]) -> None:
    cols = prepared.target_index
    windows = prepared.splits["test"]
    rows = index.unsqueeze(1) + torch.arange(windows.seq_len)  # (N, seq_len)
    history = windows.values[rows, cols[-1]].numpy()
    scaler = prepared.scaler
    band = None if bands is None else scaler.inverse(bands[..., -1, :][..., [0, -1]], cols[-1])  # (N, P, 2)
    plots.plot_forecasts(path, scaler.inverse(history, cols[-1]), scaler.inverse(true[..., -1], cols[-1]),
                         scaler.inverse(pred[..., -1], cols[-1]), prepared.target_columns[-1],
                         band=band, band_label=f"{levels[0]:g}-{levels[-1]:g} quantiles" if levels else "",
                         dates=prepared.dates[slice(*prepared.borders["test"])].to_numpy(), starts=index.numpy())


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def interrupted(run_dir: Path, data_cfg: DataConfig, train_cfg: TrainConfig) -> bool:
    """Whether ``run_dir`` holds a checkpoint of a killed ``train_run`` of this data with these training settings,
    which ``train_run(..., resume=True)`` continues (a table's cell killed with its process)."""
    if not (run_dir / CHECKPOINT).is_file() or not (run_dir / CONFIG).is_file():
        return False
    config = read_json(run_dir / CONFIG)
    data = {k: config["data"].get(k) for k in ("data", "features", "seq_len", "label_len", "pred_len")}
    # how a run shows, where it runs and how it saves, not what it computes
    display = ("progress", "threads", "checkpoint_minutes", "device")
    saved = {**TrainConfig().to_dict(), **config["train"]}  # settings added since take their defaults (loss)

    def computing(train: dict) -> dict:
        return {k: v for k, v in train.items() if k not in display and k not in unused_settings(train["lradj"])}
    same_train = computing(saved) == computing(train_cfg.to_dict())
    return same_train and data == {k: getattr(data_cfg, k) for k in data}


def resume_run(run_dir: str | Path, log=say) -> dict:
    """Continue a killed ``train_run`` from its last checkpoint, with the settings in its config.json."""
    run_dir = Path(run_dir)
    config = read_json(run_dir / CONFIG)
    return train_run(DataConfig(**config["data"]), config["model_name"], user_settings(config),
                     saved_train_config(config), run_dir, log=log, resume=True,
                     refit=config.get("refit", False))  # recorded again as the run set out
