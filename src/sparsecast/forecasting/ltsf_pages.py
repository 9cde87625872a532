"""The Markdown page of one dataset's LTSF table (``<data>_ltsf.md``): every variant's test MSE / MAE beside the
published anchors, the same on the spaced and the anchors' windows, then validation losses and seconds per cell.
Built from the recorded cells (``ltsf.ltsf_table`` writes them)."""

import math
import platform
import statistics
from pathlib import Path

import torch

from ..reference import ltsf_published
from ..training.precision import cpu_summary
from .scoring import ANCHOR_TEST_BATCH, SPACED_TEST


def mean_std(values: list[float]) -> str:
    """Several values as their mean ± std to three decimals; one value alone."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def published_text(row: dict) -> str:
    """A published anchor's "mse / mae" (the MSE alone where the MAE is unpublished), as the tables print it."""
    return f"{row['mse']:.3f}" + (f" / {row['mae']:.3f}" if row["mae"] is not None else "")


def _val_mse(cell: dict) -> float | None:
    """A cell's validation MSE with its kept weights: recorded, or its best validation loss where that was MSE (the
    loss of every cell before the loss could be chosen)."""
    if cell.get("val"):
        return cell["val"]["mse"]
    return cell["val_loss"] if cell.get("train", {}).get("loss", "mse") == "mse" else None


def summarize(results: dict) -> dict:
    """Per (horizon, variant): mean test MSE / MAE, mean best validation loss, seeds, mean seconds."""
    cells: dict = {}
    for r in results.values():
        cells.setdefault((r["horizon"], r["variant"]), []).append(r)
    return {key: {"mse": [r["test"]["mse"] for r in rs], "mae": [r["test"]["mae"] for r in rs],
                  "val": [v for v in map(_val_mse, rs) if v is not None],
                  "seconds": statistics.mean(r["seconds"] for r in rs), "seq_len": rs[0]["seq_len"],
                  "epochs": [r["epochs"] if r["epochs"] is not None else "-" for r in rs],
                  "cut": sum(bool(r.get("stopped_for_time")) for r in rs),
                  "gpus": sorted({r["machine"] for r in rs if r.get("machine") and not r["machine"].startswith("CPU")}),
                  "spaced_only": any(r.get("spaced_only") for r in rs),
                  "spaced": [r["test_spaced"] for r in rs if r.get("test_spaced")],
                  "drop_last": [r["test_drop_last"] for r in rs if r.get("test_drop_last")]}
            for key, rs in cells.items()}


def _subset_table(cells: dict, horizons: list[int], variants: list[str], field: str, intro: str) -> list[str]:
    """Every column on a subset of the test windows (``field`` of summarize: "spaced" or "drop_last"), mean over
    the seeds that hold the figure; the lines of the Markdown, none when no cell holds it."""
    if not any(c[field] for c in cells.values()):
        return []
    lines = ["", intro, "", "| horizon | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for h in horizons:
        means = {v: (statistics.mean(s["mse"] for s in cells[(h, v)][field]),
                     statistics.mean(s["mae"] for s in cells[(h, v)][field]),
                     cells[(h, v)][field][0]["windows"])
                 for v in variants if (h, v) in cells and cells[(h, v)][field]}
        best = min((m for m, _, _ in means.values()), default=None)
        row = []
        for v in variants:
            if v not in means:
                row.append("-")
                continue
            text = f"{means[v][0]:.3f} / {means[v][1]:.3f}"
            row.append(f"**{text}**" if math.isclose(means[v][0], best) else text)
        windows = sorted({n for _, _, n in means.values()})
        lines.append(f"| {h} ({', '.join(map(str, windows))} windows) | " + " | ".join(row) + " |")
    return lines


def write_markdown(path: Path, data: str, results: dict) -> None:
    """Test MSE / MAE (mean ± std over seeds) per horizon and variant, beside the published anchors; then the
    validation losses (what settings are chosen on) and the seconds per cell."""
    cells = summarize(results)
    horizons = sorted({h for h, _ in cells})
    variants = list(dict.fromkeys(v for _, v in cells))
    published = [r for r in ltsf_published() if r["data"] == data]
    anchors = list(dict.fromkeys((r["model"], r["seq_len"]) for r in published))
    lines = [f"# {data}, LTSF protocol (features M): test MSE / MAE on the normalized scale", "",
             f"Machine: {platform.machine()} ({cpu_summary()}), torch {torch.__version__}; the threads and precision "
             f"of each cell are in the JSON. Every test window scored; mean ± std over the seeds run (n in the "
             f"seconds table). Published anchors (as printed; their test loaders drop the last partial batch) in "
             f"the last columns.", "",
             "| horizon | " + " | ".join(f"{v} (L={cells[(horizons[0], v)]['seq_len']})"
                                        if (horizons[0], v) in cells else v for v in variants)
             + "".join(f" | {m} L={L} (published)" for m, L in anchors) + " |",
             "|---|" + "---|" * (len(variants) + len(anchors))]
    for h in horizons:
        row = []
        best = min((statistics.mean(cells[(h, v)]["mse"]) for v in variants
                    if (h, v) in cells and not cells[(h, v)]["spaced_only"]), default=None)
        for v in variants:
            c = cells.get((h, v))
            if c is None:
                row.append("not run")
                continue
            if c["spaced_only"]:
                row.append("spaced windows only")
                continue
            mse = statistics.mean(c["mse"])
            text = f"{mean_std(c['mse'])} / {statistics.mean(c['mae']):.3f}"
            row.append(f"**{text}**" if math.isclose(mse, best) else text)
        for m, L in anchors:
            hit = [r for r in published if (r["model"], r["seq_len"], r["pred_len"]) == (m, L, h)]
            row.append(published_text(hit[0]) if hit else "-")
        lines.append(f"| {h} | " + " | ".join(row) + " |")
    lines += _subset_table(
        cells, horizons, variants, "spaced",
        f"The same on {SPACED_TEST} evenly spaced test windows (from the first origin to the last; statsforecast's "
        f"models, refit on every window, are scored on these alone). Mean over the seeds that hold the figure "
        f"(cells run before it was recorded, whose runs are gone, show -):")
    lines += _subset_table(
        cells, horizons, variants, "drop_last",
        f"The same on the windows the published anchors score: their test loader (batch {ANCHOR_TEST_BATCH} in "
        f"PatchTST's scripts) drops the last partial batch, so only the first len // {ANCHOR_TEST_BATCH} * "
        f"{ANCHOR_TEST_BATCH} windows count. Compare the published columns with this table; cells run before it "
        f"was recorded show -:")
    lines += ["", "Validation MSE of the kept weights (mean over seeds, whatever loss trained them; settings are "
              "chosen on this, never on test) and seconds per cell (training + validation + test, mean over seeds; "
              "n = seeds, epochs run; on the CPU unless a GPU is named):", "",
              "| horizon | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for h in horizons:
        row = []
        for v in variants:
            c = cells.get((h, v))
            if c is None:
                row.append("-")
                continue
            val = f"{statistics.mean(c['val']):.4f}" if c["val"] else "-"
            cut = f", {c['cut']} cut by the time budget" if c["cut"] else ""
            gpu = f", on {' / '.join(c['gpus'])}" if c["gpus"] else ""
            row.append(f"{val}; {c['seconds']:.0f} s (n={len(c['mse'])}, epochs {','.join(map(str, c['epochs']))}"
                       f"{cut}{gpu})")
        lines.append(f"| {h} | " + " | ".join(row) + " |")
    path.write_text("\n".join(lines) + "\n")
