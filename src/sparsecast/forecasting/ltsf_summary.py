"""One table across the LTSF datasets, built from each dataset's ``<data>_ltsf.json``: what the README shows.

Rows are (dataset, horizon); columns are our models trained by our loop, the simple baselines, then the published
anchors. Every figure is read from the recorded cells, so the README's table is regenerated, never typed.
"""

import statistics
from pathlib import Path

from ..reference import ltsf_published
from .ltsf import PATCHTST_SHORT
from .ltsf_pages import mean_std, published_text
from .run_dir import read_results

SUMMARY_DATA = ("ETTh1", "ETTh2", "ETTm1", "ETTm2", "weather", "exchange_rate")
# (variant label in the JSON, column title)
OURS = (("longpatch", "**LongPatch**"), ("dlinear", "DLinear (ours)"), ("patchtst", "PatchTST-style (ours)"),
        ("repeat_last", "repeat last"), ("seasonal_naive", "seasonal naive"))
# Where a column's variant has no cell, the one it stands in for (marked): the PatchTST-style cells trained on the
# earlier, shorter budget, until the scripts' budget has run there
STAND_INS = {"patchtst": (PATCHTST_SHORT, "10 epochs")}
# (model, lookback) of the published figures, as ltsf_published.csv names them
ANCHORS = (("DLinear", 336), ("PatchTST/42", 336), ("PatchTST/64", 512), ("PatchTST", 96))
BEGIN, END = "<!-- ltsf-summary -->", "<!-- /ltsf-summary -->"


def _cell(cells: list[dict], key: str = "test", mark: str = "") -> tuple[float, str] | None:
    """Mean MSE and the text "mse ± std / mae" of a variant's cells, from ``key`` ("test" or "test_drop_last"),
    with ``mark`` after it in brackets where given."""
    figures = [c[key] for c in cells if c.get(key)]
    if not figures:
        return None
    mse = [f["mse"] for f in figures]
    text = f"{mean_std(mse)} / {statistics.mean(f['mae'] for f in figures):.3f}"
    return statistics.mean(mse), text + (f" ({mark})" if mark else "")


def _column(results: list[dict], horizon: int, variant: str) -> tuple[float, str] | None:
    """A column's figure at ``horizon``: its variant's cells, else those of the variant it stands in for, marked."""
    def cells(v: str) -> list[dict]:
        return [r for r in results if (r["horizon"], r["variant"]) == (horizon, v)]
    if cells(variant) or variant not in STAND_INS:
        return _cell(cells(variant))
    stand_in, mark = STAND_INS[variant]
    return _cell(cells(stand_in), mark=mark)


def summary_lines(results_dir: Path, datasets: tuple[str, ...] = SUMMARY_DATA) -> list[str]:
    """The Markdown table (header, rule, one row per dataset and horizon that has a LongPatch cell). The lowest MSE
    of a row, ours or published, is in bold; the last column is LongPatch on the windows the anchors score."""
    published = ltsf_published()
    head = [title for _, title in OURS] + [f"{m} L={L} (published)" for m, L in ANCHORS]
    lines = ["| data, horizon | " + " | ".join(head) + " | LongPatch, anchors' windows | seeds |",
             "|---|" + "---|" * (len(head) + 2)]
    for data in datasets:
        path = results_dir / f"{data}_ltsf.json"
        if not path.is_file():
            continue
        results = [r for r in read_results(path).values() if not r.get("spaced_only")]
        for h in sorted({r["horizon"] for r in results if r["variant"] == "longpatch"}):
            figures = [_column(results, h, v) for v, _ in OURS]
            for m, L in ANCHORS:
                hit = [p for p in published if (p["data"], p["model"], p["seq_len"], p["pred_len"]) == (data, m, L, h)]
                figures.append((hit[0]["mse"], published_text(hit[0])) if hit else None)
            best = min(f[0] for f in figures if f)
            row = ["-" if f is None else f"**{f[1]}**" if round(f[0], 3) == round(best, 3) else f[1]
                   for f in figures]
            ours = [r for r in results if (r["horizon"], r["variant"]) == (h, "longpatch")]
            kept = _cell(ours, "test_drop_last")
            row += [kept[1] if kept else "-", str(len(ours))]
            lines.append(f"| {data} {h} | " + " | ".join(row) + " |")
    return lines


def write_summary(results_dir: Path, readme: Path | None = None) -> Path:
    """Write ``results_dir/summary.md``; with ``readme``, also replace the table between its summary markers."""
    lines = summary_lines(results_dir)
    path = results_dir / "summary.md"
    path.write_text("# LTSF protocol: every dataset, test MSE / MAE (normalized scale)\n\n" + "\n".join(lines) + "\n")
    if readme is not None:
        text = readme.read_text()
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        readme.write_text(text[:start] + "\n" + "\n".join(lines) + "\n" + text[end:])
    return path
