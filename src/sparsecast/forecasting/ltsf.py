"""The long-term forecasting (LTSF) protocol of DLinear, PatchTST and iTransformer, as one resumable table.

Features M, horizons 96 / 192 / 336 / 720, the Informer protocol's splits and training-split scaling, every test
window scored, MSE / MAE on the normalized scale. Each column of the table is a *variant*: a model with the
settings its own paper trains it with (``RECIPES``), optionally changed by ``key=value`` overrides, e.g.
``longpatch:attn=full`` or ``patchtst:seq_len=96`` for an ablation. Every (horizon, variant, seed) cell is one
``train_run``; finished cells are kept in ``<data>_ltsf.json`` and skipped when the command runs again.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..console import say
from ..data import DataConfig, prepare_data
from ..models.registry import STATISTICAL, train_defaults
from ..training import TrainConfig
from ..training.precision import machine_summary
from ..training.schedules import unused_settings
from .evaluate import score_spaced
from .experiment import interrupted, train_run
from .ltsf_pages import write_markdown
from .scoring import SPACED_TEST
from .peers import run_peer
from .run_dir import CONFIG, claim, read_json, read_results, record_result

HORIZONS = (96, 192, 336, 720)
# The PatchTST-style model before its recipe took the scripts' budget and layers (10 epochs, patience 3, type3
# everywhere, our encoder layers): the label its earlier cells are recorded under, and what reruns them.
PATCHTST_SHORT = "patchtst:epochs=10,patience=3,lradj=type3,tst_layers=false"
# Dataset families that share one configuration (PatchTST's scripts use a small model on the small ETTh sets).
SMALL = {"ETTh1", "ETTh2", "exchange_rate", "national_illness"}


@dataclass(frozen=True)
class Recipe:
    """How one model is trained in the table: its lookback, settings and optimisation, per dataset family."""

    model: str
    seq_len: int
    settings: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    label_len: int | None = None  # None: seq_len // 2 (only the Informer decoder reads it)
    small: dict = field(default_factory=dict)  # settings for the SMALL family
    large: dict = field(default_factory=dict)  # settings for the others
    peer: bool = False  # a neuralforecast model (``model`` is its class name), fit by forecasting/peers.py
    test_windows: int = 0  # score only this many evenly spaced test windows (0: all; statsforecast refits per window)
    # TrainConfig fields per dataset, over ``train``; a value may be a dict {horizon: value}
    train_by_data: dict = field(default_factory=dict)

    def for_data(self, data: str, pred_len: int) -> tuple[dict, dict]:
        """The model settings and TrainConfig fields of this recipe on ``data`` at horizon ``pred_len``."""
        train = {**self.train, **self.train_by_data.get(data, {})}
        train = {k: _at_horizon(v, pred_len) if isinstance(v, dict) else v for k, v in train.items()}
        return {**self.settings, **(self.small if data in SMALL else self.large)}, train


def _at_horizon(by_horizon: dict, pred_len: int):
    """A per-horizon setting at ``pred_len``: its own entry, else the longest horizon below it, else the shortest (a
    table at horizons the scripts did not run)."""
    below = [h for h in by_horizon if h <= pred_len]
    return by_horizon[max(below) if below else min(by_horizon)]


_PATCH_SMALL = {"d_model": 16, "n_heads": 4, "d_ff": 128, "dropout": 0.3}
_PATCH_LARGE = {"d_model": 128, "n_heads": 16, "d_ff": 256, "dropout": 0.2}
RECIPES = {
    # Ours: lookback, attention and learning rate chosen on ETTh1's validation split at horizons 96 and 336, the
    # encoder's size on ETTm1's at 96 (benchmarks/results/ltsf/README.md): PatchTST's large encoder never moved
    # validation below the fitted start there, so every family takes the small one, at a fraction of the cost.
    "longpatch": Recipe("longpatch", 336, {"e_layers": 3, "attn": "probsparse"}, train_defaults("longpatch"),
                        small=_PATCH_SMALL, large=_PATCH_SMALL),
    # PatchTST/42's scripts (PatchTST_supervised/scripts/PatchTST/<data>.sh): lookback 336, patch 16 / 8, RevIN,
    # 3 layers, Adam 1e-4, batch 128, 100 epochs with the best validation kept; on ETTh1 / ETTh2 the schedule
    # "type3" as its code runs it (patchtst_type3: a first epoch at lr / 25, beta1 0.95) and patience 100
    # (run_longExp.py's defaults), on weather the same with patience 20, on ETTm1 / ETTm2 the per-step one-cycle
    # ("TST") rising over 40% of the run and patience 20. Its train loader drops the last partial batch; ours
    # trains on it. Its encoder layers are those of its code (tst_layers: BatchNorm, residual attention). The cells
    # before the thirty-seventh session trained 10 epochs, patience 3, our type3, our encoder layers
    # (PATCHTST_SHORT; on ETTh1 96 still improving when they stopped).
    "patchtst": Recipe("patchtst", 336, {"e_layers": 3, "tst_layers": True},
                       {**train_defaults("patchtst"), "epochs": 100, "patience": 100, "lradj": "patchtst_type3"},
                       small=_PATCH_SMALL, large=_PATCH_LARGE,
                       train_by_data={"weather": {"patience": 20},
                                      **{d: {"patience": 20, "lradj": "onecycle", "pct_start": 0.4}
                                         for d in ("ETTm1", "ETTm2")}}),
    # LTSF-Linear's DLinear scripts: lookback 336, kernel 25, shared weights, Adam, MSE, 10 epochs, patience 3, the
    # rate halved every epoch; batch and rate per dataset as its scripts set them (scripts/EXP-LongForecasting/
    # Linear/<data>.sh). ETTh1 keeps the first release's DLinear/etth1.sh (batch 8, 1e-4; Linear/etth1.sh has batch
    # 32, 5e-3), whose figures are close to the published ones (benchmarks/results/ltsf/README.md).
    "dlinear": Recipe("dlinear", 336, {"moving_avg": 25},
                      {"epochs": 10, "batch_size": 8, "lr": 1e-4, "patience": 3, "lradj": "type1"},
                      train_by_data={"ETTh2": {"batch_size": 32, "lr": 0.05},
                                     "ETTm2": {"batch_size": 32, "lr": {96: 1e-3, 192: 1e-3, 336: 1e-2, 720: 1e-2}},
                                     "weather": {"batch_size": 16},
                                     "exchange_rate": {"batch_size": {96: 8, 192: 8, 336: 32, 720: 32},
                                                       "lr": 5e-4},
                                     "national_illness": {"batch_size": 32, "lr": 0.01}}),  # lookback 104 there
    # The paper's Informer at the LTSF protocol's lookback 96 (label 48).
    "informer": Recipe("informer", 96, {}, {"epochs": 6, "batch_size": 32, "lr": 1e-4, "patience": 3,
                                            "lradj": "type1"}, label_len=48),
    "repeat_last": Recipe("repeat_last", 96),
    # The value one season before (24 steps for hourly data, 96 for 15 minutes, 144 for 10 minutes): the lookback
    # only has to hold one season; the test windows are the same whatever the lookback.
    "seasonal_naive": Recipe("seasonal_naive", 336),
    # statsforecast's models, refit on each window's lookback (336 rows: two weeks of hourly data, three and a half
    # days of 15-minute data) with the data's season: at about 1 s per fit (AutoETS), every test window of every
    # channel would take hours, so they are scored on the SPACED_TEST evenly spaced windows only, where every other
    # column of the table is scored too (the second table of the page).
    # No prediction intervals in the table (they would refit 200 more windows per channel).
    **{name: Recipe(name, 336, train={"quantiles": ()}, test_windows=SPACED_TEST)
       for name in ("auto_ets", "auto_arima", "auto_theta")},
    # Peers: neuralforecast's models with its long-horizon tutorial settings (peers.NF_TRAIN) at our lookback.
    **{f"nf_{name.lower()}": Recipe(name, 336, peer=True)
       for name in ("PatchTST", "DLinear", "NHITS", "TSMixer", "Informer")},
}


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


# Table-wide training flags that change what a cell computes: they join its label (so its key), where a cell
# trained without them cannot be mistaken for one trained with them. Time budgets and interval levels do not.
LABELLED_FLAGS = ("epochs", "batch_size", "lr", "patience", "lradj", "pct_start", "loss")


def with_table_flags(spec: str, train_overrides: dict | None, data: str, horizons: list[int]) -> str:
    """``spec`` with those of the table-wide ``train_overrides`` in LABELLED_FLAGS that change its cells appended as
    its own overrides: ``longpatch`` with ``{"loss": "mae"}`` is ``longpatch:loss=mae``. Left out: flags the
    variant sets itself (its own win), flags equal to what its recipe uses at every horizon of the table, and every
    flag for a model that does not train in our loop (a peer, a statistical model, repeat-last)."""
    name, _, rest = spec.partition(":")
    recipe = RECIPES.get(name)
    if recipe is None or recipe.peer or recipe.model in (*STATISTICAL, "repeat_last"):
        return spec
    given = {item.partition("=")[0].strip() for item in filter(None, rest.split(","))}
    fields = TrainConfig.__dataclass_fields__

    def changes(key, value) -> bool:
        def used(train: dict) -> bool:
            return key not in unused_settings(train.get("lradj", fields["lradj"].default))
        return any(used(train) and train.get(key, fields[key].default) != value
                   for train in (recipe.for_data(data, h)[1] for h in horizons))
    extra = [f"{k}={v}" for k, v in (train_overrides or {}).items()
             if k in LABELLED_FLAGS and k not in given and changes(k, v)]
    return spec if not extra else f"{spec}{',' if rest else ':'}{','.join(extra)}"


def parse_variant(spec: str) -> tuple[str, Recipe, dict]:
    """``name`` or ``name:key=value,key=value`` -> (label, recipe, overrides).

    ``seq_len``, ``label_len`` and TrainConfig fields (lr, epochs, batch_size, ...) in the overrides change the
    recipe's; anything else is a model or series setting (attn, revin, patch_len, ...).
    """
    name = spec.partition(":")[0]
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r} in {spec!r}; choose from {sorted(RECIPES)}")
    return spec, RECIPES[name], parse_overrides(spec)


def parse_overrides(spec: str) -> dict:
    """``name:key=value,key=value`` -> {key: value} (numbers, true / false / none read as such)."""
    overrides = {}
    for item in filter(None, spec.partition(":")[2].split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"override {item!r} in {spec!r} is not key=value")
        overrides[key.strip()] = _value(value.strip())
    return overrides


def cell_setup(data: str, recipe: Recipe, overrides: dict, pred_len: int, root_path: str | None,
               base_train: TrainConfig, seed: int, train_overrides: dict | None = None
               ) -> tuple[DataConfig, dict, TrainConfig]:
    """The data, model settings and training settings of one cell: the recipe's, changed by ``train_overrides``
    (training flags the user gave for the whole table), then by the variant's own ``overrides``."""
    settings, train = recipe.for_data(data, pred_len)
    train.update(train_overrides or {})  # a variant's own overrides, below, still win
    train_fields = set(TrainConfig.__dataclass_fields__)
    seq_len = overrides.get("seq_len", recipe.seq_len)
    label_len = overrides.get("label_len", recipe.label_len if recipe.label_len is not None else seq_len // 2)
    for key, value in overrides.items():
        if key in train_fields:
            train[key] = value
        elif key not in ("seq_len", "label_len", "test_windows"):
            settings[key] = value
    dcfg = DataConfig(data=data, root_path=root_path, features="M", seq_len=seq_len,
                      label_len=min(label_len, seq_len), pred_len=pred_len,
                      test_windows=overrides.get("test_windows", recipe.test_windows))
    tcfg = TrainConfig(**{**base_train.to_dict(), **train, "seed": seed})
    return dcfg, settings, tcfg


def ltsf_table(data: str, variants: list[str], horizons: list[int], seeds: list[int], out: Path,
               root_path: str | None, base_train: TrainConfig, log=say, train_overrides: dict | None = None) -> Path:
    """Run every (seed, horizon, variant) cell not yet in ``out/<data>_ltsf.json``; write the JSON and Markdown."""
    parsed = [parse_variant(with_table_flags(v, train_overrides, data, horizons)) for v in variants]
    out.mkdir(parents=True, exist_ok=True)
    name = Path(data).stem if Path(data).suffix else data  # a CSV's tables are named for the file
    results_path = out / f"{name}_ltsf.json"
    results = read_results(results_path)
    results = _backfill_spaced(results, results_path, out, name, log)
    for seed in seeds:  # seed by seed, so a table cut short has every cell of the first seeds
        for h in horizons:
            for label, recipe, overrides in parsed:
                key = f"{h}|{label}|{seed}"
                if key in results:
                    continue
                run_dir = _run_dir(out, name, h, label, seed)
                with claim(run_dir.with_suffix(".lock")) as mine:
                    if not mine or key in read_results(results_path):  # trained by another process, or done there
                        continue
                    cell = _run_cell(data, recipe, overrides, h, label, seed, root_path, base_train, train_overrides,
                                     run_dir, log)
                results = record_result(results_path, key, cell)
                write_markdown(out / f"{name}_ltsf.md", name, results)
    results = read_results(results_path)  # with the cells other processes recorded meanwhile
    write_markdown(out / f"{name}_ltsf.md", name, results)
    return out / f"{name}_ltsf.md"


def _run_cell(data: str, recipe, overrides: dict, h: int, label: str, seed: int, root_path: str | None,
              base_train: TrainConfig, train_overrides: dict | None, run_dir: Path, log) -> dict:
    """Train (or fit, for a peer) one cell of the table and return its record."""
    dcfg, settings, tcfg = cell_setup(data, recipe, overrides, h, root_path, base_train, seed, train_overrides)
    log(f"== {data} M lookback {dcfg.seq_len} -> {h}: {label}, seed {seed}")
    cell = {"horizon": h, "variant": label, "seed": seed, "seq_len": dcfg.seq_len,
            "spaced_only": bool(dcfg.test_windows)}
    start = time.perf_counter()
    if recipe.peer:  # its seconds are those run_peer measures: training and forecasting
        cell |= {"val_loss": None, "best_epoch": None, "epochs": None,
                 "threads": tcfg.threads or torch.get_num_threads(), "precision": "fp32",
                 **run_peer(recipe.model, prepare_data(dcfg), seed, tcfg.threads, run_dir, tcfg.checkpoint_minutes,
                            log=log)}
    else:
        resume = interrupted(run_dir, dcfg, tcfg)
        if resume:
            log(f"continuing the interrupted run in {run_dir} from its last checkpoint")
        metrics = train_run(dcfg, recipe.model, settings, tcfg, run_dir, log=log, resume=resume)
        seconds = time.perf_counter() - start
        if resume:  # this process trained only the epochs after the checkpoint: the run's own total
            seconds = metrics["seconds"]["train_and_val"] + metrics["seconds"]["test"]
        cell |= {"test": {k: metrics["test"][k] for k in ("mse", "mae")},
                 "val_loss": metrics["best_val_loss"], "val": metrics.get("val"),
                 "best_epoch": metrics["best_epoch"],
                 "epochs": len(metrics["seconds"]["per_epoch"]), "resumed": resume,
                 "seconds": seconds, "test_windows": metrics["test_windows"],
                 "test_spaced": metrics["test_spaced"],
                 "test_drop_last": metrics.get("test_drop_last"),
                 "settings": settings, "precision": metrics["precision"],
                 "threads": torch.get_num_threads(),
                 "stopped_for_time": metrics.get("stopped_for_time", False),
                 "train": {k: tcfg.to_dict()[k] for k in
                           ("epochs", "batch_size", "lr", "patience", "lradj", "pct_start", "loss",
                            "max_minutes")}}
        config = read_json(run_dir / CONFIG)
        cell["machine"] = machine_summary(config.get("device", "cpu"))
        chosen = config["model"]  # settings the start chose on validation
        if settings.get("channel_skip") is None and "channel_skip" in chosen:
            cell["channel_skip"] = chosen["channel_skip"]
    return cell


def _run_dir(out: Path, name: str, horizon: int, label: str, seed: int) -> Path:
    return out / "runs" / f"{name}_{horizon}_{_slug(label)}_s{seed}"


def _backfill_spaced(results: dict, results_path: Path, out: Path, name: str, log) -> dict:
    """Score the SPACED_TEST evenly spaced test windows of cells recorded before cells held them, where the cell's
    saved run is still on disk (run folders are not committed: elsewhere those cells stay without the figure)."""
    for key, cell in list(results.items()):
        run_dir = _run_dir(out, name, cell["horizon"], cell["variant"], cell["seed"])
        if "test_spaced" in cell or not (run_dir / "metrics.json").is_file():
            continue
        log(f"scoring {run_dir.name} on the {SPACED_TEST} evenly spaced test windows")
        results = record_result(results_path, key, {**cell, "test_spaced": score_spaced(run_dir)})
    return results


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)
