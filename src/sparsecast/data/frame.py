"""Reading a CSV of timestamps and measurements into a clean, validated frame."""

import warnings
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
    return normalize_frame(df, date_col, source=str(path))


def normalize_frame(df: pd.DataFrame, date_col: str = "date", source: str = "the data") -> pd.DataFrame:
    """A copy of ``df`` with its timestamps parsed into a first column named ``date``, in time order.

    The timestamps come from ``date_col`` or, if there is no such column, a DatetimeIndex. Unsorted rows are sorted
    (with a warning); a timestamp repeated with different values is refused, an exactly repeated row is kept with
    a warning.
    """
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise DataError(f"{source} has a header but no rows")
    if date_col not in df.columns and isinstance(df.index, pd.DatetimeIndex):
        df = df.rename_axis(date_col).reset_index()
    if date_col not in df.columns:
        raise DataError(f"no '{date_col}' column in {source}; columns are {list(df.columns)[:10]}: name the time "
                        f"column with --date-col (Python: date_col=), or add one (every row needs a timestamp)")
    dates = parse_dates(df[date_col], source)
    if dates.isna().any():
        bad = df[date_col][dates.isna()].iloc[0]
        raise DataError(f"cannot parse date {bad!r} in column '{date_col}' of {source} "
                        f"(data row {int(dates.isna().to_numpy().argmax()) + 1})")
    df = df.drop(columns=[date_col])
    df.insert(0, "date", dates)
    repeated = df.duplicated("date", keep=False)
    if repeated.any():
        conflicting = repeated & ~df.duplicated(keep=False)
        if conflicting.any():
            when = df["date"][conflicting].iloc[0]
            raise DataError(f"timestamp {when} appears more than once in {source} with different values; "
                            f"keep one row per time")
        # Identical repeated rows are kept so that published protocols (e.g. weather.csv) keep their row borders.
        warnings.warn(f"{int(df.duplicated().sum())} row(s) of {source} repeat an earlier row exactly; kept",
                      stacklevel=2)
    if not dates.is_monotonic_increasing:
        warnings.warn(f"rows of {source} are not in time order; sorting them by '{date_col}'", stacklevel=2)
        df = df.sort_values("date", kind="stable").reset_index(drop=True)
    return df


_OFFSET = r"\s*(?:Z|UTC|[+-]\d{2}:?\d{2})$"


def parse_dates(column: pd.Series, source: str = "the data") -> pd.Series:
    """Timestamps of ``column``, unparseable ones as NaT. A time zone is kept (one UTC offset throughout, or a zone
    the frame already carries). Text with several UTC offsets (local times of a zone with daylight saving) has no
    single zone to keep: sub-daily steps are read in UTC, where they stay evenly spaced, and daily or longer steps as
    the local dates they name (a local midnight is 23:00 or 22:00 in UTC); a warning says which."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas 2 warns before returning mixed offsets as objects
        try:
            dates = pd.to_datetime(column, errors="coerce")
        except ValueError:  # pandas 3 refuses mixed offsets
            dates = None
    if dates is not None and pd.api.types.is_datetime64_any_dtype(dates):
        return dates
    text = column.astype(str).str.strip()
    utc = pd.to_datetime(text, utc=True, errors="coerce")
    step = utc.dropna().sort_values().diff().median()
    if pd.notna(step) and step >= pd.Timedelta(hours=23):
        warnings.warn(f"timestamps of {source} carry several UTC offsets (a time zone with daylight saving time); "
                      f"read as the local dates they name, without the offset", stacklevel=3)
        return pd.to_datetime(text.str.replace(_OFFSET, "", regex=True), errors="coerce")
    warnings.warn(f"timestamps of {source} carry several UTC offsets (a time zone with daylight saving time); read "
                  f"in UTC, where they are evenly spaced (forecasts are dated in UTC)", stacklevel=3)
    return utc


def select_columns(df: pd.DataFrame, target: str, features: str, source: str = "data",
                   allow_missing: bool = False) -> pd.DataFrame:
    """The numeric value columns in model order: the other variates, then ``target`` last (all for M/MS, target for S).

    Raises DataError for an unknown target, non-numeric or infinite values, and missing (NaN) values unless
    ``allow_missing`` (they are then filled by ``fill_values``).
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
    bad = np.isinf(arr) if allow_missing else ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"missing or infinite value in column {cols[col]!r} at {df['date'].iloc[row]} of {source}; "
                        f"fill or drop such rows first (--fill ffill or --fill interpolate fills missing values)")
    return values.astype(np.float64)


def fill_values(df: pd.DataFrame, columns: list[str], fill: str, source: str = "data",
                warn: bool = True) -> pd.DataFrame:
    """Fill missing (NaN) values of ``columns``: "ffill" repeats the last value, "interpolate" interpolates linearly
    in time; values before a column's first observation take that observation. Warns with the count filled."""
    missing = int(df[columns].isna().sum().sum())
    if not missing:
        return df
    df = df.copy()
    values = df.set_index("date")[columns]
    values = values.ffill() if fill == "ffill" else values.interpolate(method="time")
    df[columns] = values.bfill().to_numpy()
    if warn:
        warnings.warn(f"filled {missing} missing value(s) of {source} by {fill}", stacklevel=2)
    return df
