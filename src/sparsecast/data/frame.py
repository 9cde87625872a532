"""Reading a CSV of timestamps and measurements into a clean, validated frame."""

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError


def read_table(path: str | Path, date_col: str = "date") -> pd.DataFrame:
    """Read ``path`` and return a frame with a parsed ``date`` column first and the other columns as given.

    Handles CRLF line endings and a byte-order mark. Raises DataError with what is wrong and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path} (give a built-in name such as ETTh1, or the path of a CSV)")
    if path.stat().st_size == 0:
        raise DataError(f"data file is empty: {path}")
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", encoding_errors="replace")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {path} as CSV: {str(e).splitlines()[0]}") from e
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise DataError(f"data file has a header but no rows: {path}")
    if date_col not in df.columns:
        raise DataError(f"no '{date_col}' column in {path}; columns are {list(df.columns)[:10]} "
                        f"(name the time column with --date-col)")
    dates = pd.to_datetime(df[date_col], errors="coerce")
    if dates.isna().any():
        bad = df[date_col][dates.isna()].iloc[0]
        raise DataError(f"cannot parse date {bad!r} in column '{date_col}' of {path} "
                        f"(row {int(dates.isna().to_numpy().argmax()) + 2} of the file)")
    df = df.drop(columns=[date_col])
    df.insert(0, "date", dates)
    return df


def select_columns(df: pd.DataFrame, target: str, features: str, source: str = "data") -> pd.DataFrame:
    """The numeric value columns in model order: the other variates, then ``target`` last (all for M/MS, target for S).

    Raises DataError for an unknown target, non-numeric or non-finite values.
    """
    if features not in ("M", "S", "MS"):
        raise DataError(f"features must be M, S or MS, got {features!r}")
    if target not in df.columns:
        cols = [c for c in df.columns if c != "date"]
        raise DataError(f"target column {target!r} not in {source}; columns are {cols[:12]} (use --target)")
    others = [c for c in df.columns if c not in ("date", target)]
    cols = [target] if features == "S" else others + [target]
    values = df[cols]
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(values[c])]
    if bad:
        raise DataError(f"non-numeric column(s) {bad} in {source}; drop them or convert them to numbers")
    arr = values.to_numpy(dtype=np.float64)
    if not np.isfinite(arr).all():
        row, col = np.argwhere(~np.isfinite(arr))[0]
        raise DataError(f"missing or infinite value in column {cols[col]!r} at {df['date'].iloc[row]} of {source}; "
                        f"fill or drop such rows first")
    return values.astype(np.float64)
