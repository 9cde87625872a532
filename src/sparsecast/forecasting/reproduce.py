"""Re-run the paper's tables: per dataset and horizon, the paper's settings for Informer (with the paper's global top-u
decoder, with the causal-prefix decoder that earlier cells ran, and, on request, with two of the official code's
decoder quirks: heads mixed and lazy rows the cumulative sum), Informer‡ (full attention), Informer + RevIN, DLinear,
repeat-last-value and seasonal naive (the value one season, a day at hourly or 15-minute steps, before) on the same
splits; a Markdown table of ours beside the paper's numbers."""

import dataclasses
import itertools
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from ..atomic import atomic_path
from ..console import say
from ..data import DataConfig
from ..reference import paper_table
from ..training import TrainConfig
from ..training.precision import machine_summary
from .experiment import interrupted, train_run
from .plots import plot_by_horizon
from .run_dir import CONFIG, claim, read_results, record_result

TABLES = {"univariate": "S", "multivariate": "M"}
# (key for --models, column label, model name, model settings)
ROWS = [("informer", "Informer", "informer", {"attn": "probsparse"}),
        ("informer_prefix", "Informer, causal-prefix decoder", "informer", {"attn": "probsparse",
                                                                            "selection": "prefix"}),
        ("full", "Informer‡ (full attn)", "informer", {"attn": "full"}),
        ("informer_revin", "Informer + RevIN", "informer", {"attn": "probsparse", "revin": True}),
        ("dlinear", "DLinear", "dlinear", {}), ("repeat_last", "repeat last", "repeat_last", {}),
        ("seasonal_naive", "seasonal naive", "seasonal_naive", {}),
        ("informer_mix_cumsum", "Informer, official mix + cumsum", "informer", {"attn": "probsparse", "mix": True,
                                                                                "lazy": "cumsum"})]
OPT_IN = {"informer_mix_cumsum"}  # rows that run only when --models names them


def chosen_rows(models: list[str] | None) -> list[tuple]:
    """The rows of ROWS that ``models`` names, in ROWS' order; None: every row but the opt-in ones."""
    unknown = set(models or []) - {r[0] for r in ROWS}
    if unknown:
        raise ValueError(f"unknown model(s) {sorted(unknown)}; choose from {[r[0] for r in ROWS]}")
    return [r for r in ROWS if r[0] in models] if models else [r for r in ROWS if r[0] not in OPT_IN]


def _fmt(runs: list[dict], paper_mse: float) -> str:
    """MSE / MAE of a cell's seeds (the value of one, mean ± std (n) of several) and the MSE's change against the
    paper's Informer in percent."""
    if not runs:
        return "not run"
    mse, mae = [r["test"]["mse"] for r in runs], [r["test"]["mae"] for r in runs]
    cut = " (time budget)" if any(r.get("stopped_for_time") for r in runs) else ""
    delta = f" ({(statistics.mean(mse) / paper_mse - 1) * 100:+.0f}%)"
    if len(runs) == 1:
        return f"{mse[0]:.3f} / {mae[0]:.3f}{delta}{cut}"
    return (f"{statistics.mean(mse):.3f} ± {statistics.stdev(mse):.3f} / {statistics.mean(mae):.3f} ± "
            f"{statistics.stdev(mae):.3f} (n={len(runs)}){delta}{cut}")


def _seed_runs(results: dict, horizon: int, row_key: str) -> list[dict]:
    """Every seed's result of one cell and row, seed 0 first."""
    prefix = f"{horizon}|{row_key}"
    return [r for k, r in sorted(results.items(), key=lambda kv: kv[1].get("seed", 0))
            if k == prefix or k.startswith(prefix + "|seed")]


def _run_facts(run_dir: Path, metrics: dict) -> dict:
    """What a cell's result needs beside its metrics: the attention it ran, its epochs' times, its best epoch."""
    config = json.loads((run_dir / CONFIG).read_text())
    model = config["model"]
    facts = {"attn": model.get("attn"), "seconds_per_epoch": metrics["seconds"]["per_epoch"],
             "best_epoch": metrics.get("best_epoch"), "machine": machine_summary(config.get("device", "cpu"))}
    if metrics.get("stopped_for_time"):
        facts["stopped_for_time"] = True
    if model.get("attn") == "probsparse":
        facts["sampling"] = model["sampling"]
        facts["selection"] = model.get("selection", "prefix")  # runs before the global decoder had none
    return facts


def result_key(horizon: int, row_key: str, seed: int) -> str:
    """A cell's key in the table's JSON: seed 0 keeps the key of the tables written before seeds were a dimension."""
    return f"{horizon}|{row_key}" if seed == 0 else f"{horizon}|{row_key}|seed{seed}"


def reproduce(table: str, data: str, out: Path, root_path: str | None, horizons: list[int] | None,
              train_cfg: TrainConfig, models: list[str] | None = None, model_params: dict | None = None,
              log=say, seeds: list[int] | None = None) -> Path:
    """Run the cells of one table for each seed (default: ``train_cfg.seed``) and write ``out/<data>_<table>.md``
    (rewritten after every cell). Finished cells are skipped, and so is a cell another process is training, so
    several processes may fill one table at once."""
    if train_cfg.loss != "mse":
        raise ValueError(f"the paper's tables train on MSE, not {train_cfg.loss!r}; --loss is for train and "
                         f"benchmark ltsf")
    features = TABLES[table]
    all_cells = [r for r in paper_table() if r["data"] == data and r["features"] == features]
    if not all_cells:
        raise ValueError(f"the paper has no {table} table for {data!r}")
    cells = [r for r in all_cells if not horizons or r["pred_len"] in horizons]
    rows = chosen_rows(models)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / f"{data}_{table}.json"
    for seed, cell, (row_key, label, model_name, params) in itertools.product(seeds or [train_cfg.seed], cells, rows):
        dcfg = DataConfig(data=data, root_path=root_path, features=features, seq_len=cell["seq_len"],
                          label_len=cell["label_len"], pred_len=cell["pred_len"])
        key = result_key(cell["pred_len"], row_key, seed)
        if model_name == "informer":
            params = {**params, "e_layers": cell["e_layers"], "d_layers": cell["d_layers"],
                      "factor": cell["factor"], **(model_params or {})}
        cell_cfg = dataclasses.replace(train_cfg, seed=seed)
        run_dir = out / "runs" / f"{data}_{features}_{cell['pred_len']}_{row_key}{f'_seed{seed}' if seed else ''}"
        with claim(run_dir.with_suffix(".lock")) as mine:
            if not mine or key in read_results(results_path):  # trained by another process, or finished there
                continue
            log(f"== {data} {features} h{cell['pred_len']} {label}, seed {seed}")
            record = _run_cell(dcfg, model_name, params, cell_cfg, run_dir, log)
        results = record_result(results_path, key, {**record, "seed": seed})
        write_markdown(out / f"{data}_{table}.md", data, table, all_cells, results, train_cfg)
    write_markdown(out / f"{data}_{table}.md", data, table, all_cells, read_results(results_path), train_cfg)
    return out / f"{data}_{table}.md"


def _run_cell(dcfg: DataConfig, model_name: str, params: dict, cell_cfg: TrainConfig, run_dir: Path, log) -> dict:
    """Train one cell (continuing its interrupted run if there is one) and return its record for the table."""
    start = time.perf_counter()
    resume = interrupted(run_dir, dcfg, cell_cfg)
    if resume:
        log(f"continuing the interrupted run in {run_dir} from its last checkpoint")
    metrics = train_run(dcfg, model_name, params, cell_cfg, run_dir, log=log, resume=resume)
    seconds = time.perf_counter() - start
    if resume:  # this call trained only the epochs after the checkpoint
        seconds = metrics["seconds"]["train_and_val"] + metrics["seconds"]["test"]
    return {"test": metrics["test"], "seconds": seconds, "resumed": resume,
            "epochs": len(metrics["seconds"]["per_epoch"]), **_run_facts(run_dir, metrics)}


def write_markdown(path: Path, data: str, table: str, cells, results, train_cfg: TrainConfig) -> None:
    """The table of the paper's Informer column and every other row of ROWS that has run in this table; cells not
    run yet say so."""
    rows = [r for r in ROWS if r[0] == "informer" or any(_seed_runs(results, c["pred_len"], r[0]) for c in cells)]
    lines = [f"# {data}, {table} (features {TABLES[table]}): test MSE / MAE on the normalized scale", "",
             f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
             f"torch {torch.__version__}. Training: epochs {train_cfg.epochs}, batch {train_cfg.batch_size}, "
             f"lr {train_cfg.lr}, patience {train_cfg.patience}. Several seeds: mean ± std (n); in brackets the "
             f"MSE's change against the paper's Informer (negative: lower than the paper's); where each cell ran is "
             f"in its line below.", "", f"![test MSE by horizon]({_plot_path(path).name})", "",
             "| horizon | setting (seq/label, e/d layers, factor) | paper Informer | "
             + " | ".join(r[1] for r in rows) + " | wall time (all seeds) |",
             "|---|---|---|" + "---|" * len(rows) + "---|"]
    details = []
    for cell in cells:
        h = cell["pred_len"]
        cell_runs = [_seed_runs(results, h, r[0]) for r in rows]
        secs = sum(r["seconds"] for runs in cell_runs for r in runs)
        setting = f"{cell['seq_len']}/{cell['label_len']}, {cell['e_layers']}/{cell['d_layers']}, {cell['factor']}"
        lines.append(f"| {h} | {setting} | {cell['paper_mse']:.3f} / {cell['paper_mae']:.3f} | "
                     + " | ".join(_fmt(runs, cell["paper_mse"]) for runs in cell_runs)
                     + (f" | {secs / 60:.1f} min |" if any(cell_runs) else " | - |"))
        details += [_detail(h, row[1], r) for row, runs in zip(rows, cell_runs) for r in runs
                    if r.get("seconds_per_epoch")]
    if details:
        lines += ["", "Trained cells (epoch = training + validation, in seconds; the machine may have been shared):", ""]
        lines += details
    with atomic_path(path) as tmp:  # several processes may rewrite the table
        Path(tmp).write_text("\n".join(lines) + "\n")
    _write_plot(_plot_path(path), f"{data}, {table} (features {TABLES[table]})", cells, results)


def _plot_path(table_path: Path) -> Path:
    return table_path.with_suffix(".png")


def _write_plot(path: Path, title: str, cells, results: dict) -> None:
    """Test MSE by horizon: the paper's Informer and every row of ours that has a run (mean over its seeds)."""
    lines = {"paper Informer": ([c["pred_len"] for c in cells], [c["paper_mse"] for c in cells])}
    for row_key, label, _, _ in ROWS:
        points = [(c["pred_len"], statistics.mean(r["test"]["mse"] for r in runs)) for c in cells
                  if (runs := _seed_runs(results, c["pred_len"], row_key))]
        if points:
            lines[label] = ([h for h, _ in points], [m for _, m in points])
    with atomic_path(path) as tmp:
        plot_by_horizon(Path(tmp), title, lines, {label: f"C{i}" for i, (_, label, _, _) in enumerate(ROWS)})


def _detail(horizon: int, label: str, r: dict) -> str:
    epochs = r["seconds_per_epoch"]
    sampling = f", ProbSparse sampling {r['sampling']}" if r.get("sampling") else ""
    machine = f", {r['machine']}" if r.get("machine") else ""
    return (f"- h{horizon} {label}, seed {r.get('seed', 0)}{sampling}: {r['epochs']} epochs (best "
            f"{r.get('best_epoch')}), median epoch {_secs(statistics.median(epochs))} s (fastest "
            f"{_secs(min(epochs))} s){machine}")


def _secs(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"
