"""Train / validation / test borders of the paper's protocol, as pure functions of row counts."""

SPLITS = ("train", "val", "test")

# ETT borders in rows of hourly data: 12 months train, 4 val, 4 test (30-day months).
_ETT_MONTH_HOURS = 30 * 24


def fit_train_rows(n_rows: int, pred_len: int) -> int:
    """Training rows of the "fit" split: the first 90%, fewer where the last 10% is shorter than one horizon (the
    validation part always holds at least one whole horizon)."""
    return min(int(n_rows * 0.9), n_rows - pred_len)


def custom_ends(n_rows: int, pred_len: int) -> tuple[int, int]:
    """Where the train and validation rows of the "custom" split end: 70% / 10% / 20%, except that validation and
    test each hold at least one whole horizon on a short series (training gives up the rows)."""
    val_end = n_rows - max(int(n_rows * 0.2), pred_len)
    return min(int(n_rows * 0.7), val_end - pred_len), val_end


def train_rows(kind: str, n_rows: int, pred_len: int) -> int:
    """Training rows of a "fit" or "custom" split of ``n_rows`` rows."""
    return fit_train_rows(n_rows, pred_len) if kind == "fit" else custom_ends(n_rows, pred_len)[0]


def split_borders(kind: str, n_rows: int, seq_len: int, pred_len: int = 0) -> dict[str, tuple[int, int]]:
    """Row ranges [start, end) of each split. Val and test start seq_len early so their first window has history.

    Args:
        kind: "ett_hour" (ETTh*), "ett_minute" (ETTm*, 15-minute rows), "custom" (70% / 10% / 20%, chronological;
            validation and test at least ``pred_len`` rows each)
            or "fit" (90% train / 10% validation, at least ``pred_len`` rows; no test: for fitting a forecaster of
            the real future).
    """
    if kind == "fit":
        n_train = fit_train_rows(n_rows, pred_len)
        return {"train": (0, n_train), "val": (max(0, n_train - seq_len), n_rows)}
    if kind in ("ett_hour", "ett_minute"):
        m = _ETT_MONTH_HOURS * (4 if kind == "ett_minute" else 1)
        ends = (12 * m, 16 * m, 20 * m)
    elif kind == "custom":
        ends = (*custom_ends(n_rows, pred_len), n_rows)
    else:
        raise ValueError(f"unknown split kind {kind!r}")
    starts = (0, ends[0] - seq_len, ends[1] - seq_len)
    return {name: (max(0, s), e) for name, s, e in zip(SPLITS, starts, ends)}


def n_windows(n_rows: int, seq_len: int, pred_len: int) -> int:
    """Number of (seq_len + pred_len) windows in n_rows rows at stride 1."""
    return max(0, n_rows - seq_len - pred_len + 1)
