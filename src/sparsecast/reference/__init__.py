"""Published settings and results kept as data: the Informer paper's (informer_paper.csv) and the LTSF anchors'
(ltsf_published.csv)."""

import csv
from functools import cache
from importlib import resources


@cache
def paper_table() -> list[dict]:
    """Rows of informer_paper.csv with numbers parsed: data, features, pred_len, seq_len, label_len, e_layers,
    d_layers, factor, paper_mse, paper_mae."""
    text = (resources.files("sparsecast.reference") / "informer_paper.csv").read_text()
    rows = []
    for row in csv.DictReader(text.splitlines()):
        rows.append({k: v if k in ("data", "features") else (float(v) if k.startswith("paper") else int(v))
                     for k, v in row.items()})
    return rows


def paper_row(data: str, features: str, pred_len: int) -> dict | None:
    """The paper's setting and result for one cell, or None where the paper has none."""
    for row in paper_table():
        if (row["data"], row["features"], row["pred_len"]) == (data, features, pred_len):
            return row
    return None


@cache
def ltsf_published() -> list[dict]:
    """Rows of ltsf_published.csv: data, model, seq_len, pred_len, mse, mae (None where unpublished), source."""
    text = (resources.files("sparsecast.reference") / "ltsf_published.csv").read_text()
    return [{**row, "seq_len": int(row["seq_len"]), "pred_len": int(row["pred_len"]), "mse": float(row["mse"]),
             "mae": float(row["mae"]) if row["mae"] else None} for row in csv.DictReader(text.splitlines())]
