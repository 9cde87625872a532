"""Reading a CSV of timestamps and measurements into a clean, validated frame."""

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError


def read_table(path: str | Path, date_col: str = "date") -> pd.DataFrame:
    """Read ``path`` and return a frame with a parsed ``date`` column first and the other columns as given.

    Finds the separator (commas; semicolons, with decimal commas where the numbers have them; tabs; bars) and handles
    CRLF line endings and a byte-order mark: what the command line reads, for the Python API too
    (``sparsecast.read_table``). ``attrs["csv_format"]`` of the result holds the separator and decimal mark found, so
    a table written for this file's reader can use them too. Raises DataError with what is wrong and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path} (give a built-in name such as ETTh1, or the path of a CSV)")
    if path.stat().st_size == 0:
        raise DataError(f"data file is empty: {path}")
    kind = _NOT_CSV.get(path.suffix.lower())
    if kind:
        raise DataError(f"{path} is {kind}, not a CSV: save it as CSV, or read it with pandas and give the DataFrame "
                        f"to sparsecast.Forecaster")
    sep, decimal = _delimiter(path), "."
    try:
        df = pd.read_csv(path, sep=sep, encoding="utf-8-sig", encoding_errors="replace")
        if sep == ";" and _decimal_commas(df, date_col):  # a European spreadsheet's export: 12,5 is twelve and a half
            decimal = ","
            df = pd.read_csv(path, sep=sep, decimal=decimal, encoding="utf-8-sig", encoding_errors="replace")
        df = _ungroup_numbers(df, date_col, decimal)  # "1,234.5" (or "1.234,5" beside decimal commas)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {path} as CSV: {str(e).splitlines()[0]}") from e
    df = normalize_frame(df, date_col, source=str(path))
    df.attrs["csv_format"] = {"sep": sep, "decimal": decimal}  # what the command line writes its output in
    return df


_NOT_CSV = {".xlsx": "an Excel workbook", ".xls": "an Excel workbook", ".parquet": "a Parquet file",
            ".feather": "a Feather file", ".json": "a JSON file", ".pkl": "a pickle", ".h5": "an HDF5 file"}


def _delimiter(path: Path) -> str:
    """The field separator of the file's header line (read as pandas reads the file, compressed or not): the one of
    comma, semicolon, tab and bar it holds most of outside quotes (comma when it holds none)."""
    try:
        first = pd.read_csv(path, header=None, nrows=1, sep="\x01", quoting=3, encoding="utf-8-sig",
                            encoding_errors="replace", keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError):
        return ","
    header = re.sub(r'"[^"]*"', "", str(first.iloc[0, 0]) if first.size else "")
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


_DECIMAL_COMMA = r"\s*[-+]?[\d.]*\d,\d*\s*|\s*[-+]?\d+\s*"


def _decimal_commas(df: pd.DataFrame, date_col: str) -> bool:
    """Whether a text column of a semicolon-separated frame holds numbers written with a decimal comma (re-read with
    ``decimal=","``, text columns stay text)."""
    for c in df.columns:
        if c == date_col or pd.api.types.is_numeric_dtype(df[c]):
            continue
        sample = df[c].head(500).dropna().astype(str)
        if len(sample) and sample.str.contains(",").any() and sample.str.fullmatch(_DECIMAL_COMMA).all():
            return True
    return False


def _ungroup_numbers(df: pd.DataFrame, date_col: str, decimal: str) -> pd.DataFrame:
    """``df`` with each text column whose every value is a number, some written with digit grouping ("1,234.5"; with
    decimal commas "1.234,5"), converted to numbers; other columns as they are. A group mark follows a leading group
    of one to three digits not starting with 0, so "0,125" or "1,5" (decimal commas) and tag lists ("1,2") stay text."""
    mark = "," if decimal == "." else "."
    m, d = re.escape(mark), re.escape(decimal)
    grouped = rf"\s*[-+]?[1-9]\d{{0,2}}(?:{m}\d{{3}})+(?:{d}\d*)?\s*"
    plain = rf"\s*[-+]?(?:\d+(?:{d}\d*)?|{d}\d+)\s*"
    for c in df.columns:
        if c == date_col or pd.api.types.is_numeric_dtype(df[c]):
            continue
        text = df[c].dropna().astype(str)
        is_grouped = text.str.fullmatch(grouped)
        if len(text) and is_grouped.any() and (is_grouped | text.str.fullmatch(plain)).all():
            digits = df[c].astype("string").str.replace(mark, "", regex=False).str.replace(decimal, ".", regex=False)
            df[c] = pd.to_numeric(digits.str.strip()).astype(np.float64)
    return df


# Names of a time column, in two tiers: a column of the first is taken before one of the second (a Date column beside
# a Month or Hour one that also parses as dates)
_TIME_NAMES = (("date", "datetime", "timestamp", "time", "ds", "date_time", "time_stamp", "dates", "times",
                "datum", "zeit", "zeitstempel", "fecha", "data", "horodatage"),  # spreadsheets in other languages
               ("period", "year", "quarter", "month", "week", "day", "hour"))


def normalize_frame(df: pd.DataFrame, date_col: str = "date", source: str = "the data") -> pd.DataFrame:
    """A copy of ``df`` with its timestamps parsed into a first column named ``date``, in time order.

    The timestamps come from ``date_col`` or, if there is no such column, a DatetimeIndex; with the default name
    "date", the one text column named for time (Date, datetime, timestamp, time, ds, Month, Week, ...: ``_TIME_NAMES``,
    any case) whose every row is a date is taken too. Unsorted rows
    are sorted (with a warning); a timestamp repeated with different values is refused, an exactly repeated row is
    left to ``datasets.regular_frame``. ``attrs["time_column"]`` of the result is the timestamps' own name.
    """
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    unnamed = [c for c in df.columns if c.startswith("Unnamed: ")]  # pandas' name for an empty header field
    if date_col not in df.columns and unnamed and unnamed[0] == df.columns[0] \
            and not pd.api.types.is_numeric_dtype(df[unnamed[0]]) and _all_dates(df[unnamed[0]]):
        df = df.rename(columns={unnamed[0]: date_col})  # a saved Series or frame with an unnamed DatetimeIndex
        unnamed = unnamed[1:]
    unnamed = [c for c in unnamed if c != date_col]
    if unnamed and len(unnamed) < len(df.columns):
        warnings.warn(f"dropped {len(unnamed)} column(s) of {source} with no name in the header (a saved row index?)",
                      stacklevel=2)
        df = df.drop(columns=unnamed)
    if df.empty:
        raise DataError(f"{source} has a header but no rows")
    if date_col not in df.columns and isinstance(df.index, pd.DatetimeIndex):
        df = df.rename_axis(date_col).reset_index()
    if date_col not in df.columns and {"unique_id", "ds", "y"} <= set(df.columns):
        raise DataError(f"{source} is in long format (unique_id, ds, y: series stacked one under another); the command "
                        f"line reads one wide table (a date column, a column per variable): fit it with the Python API, "
                        f"Forecaster().fit(pd.read_csv(...)), one model over every series, or pivot it wide with "
                        f"df.pivot(index='ds', columns='unique_id', values='y')")
    if date_col not in df.columns and date_col == "date":  # the default name: the text column named for time
        date_col = _time_column(df, source) or date_col  # whose every row is a date
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
        # identical repeated rows: ``datasets.regular_frame`` says what becomes of them (kept once, or as published)
    if not dates.is_monotonic_increasing:
        warnings.warn(f"rows of {source} are not in time order; sorting them by '{date_col}'", stacklevel=2)
        df = df.sort_values("date", kind="stable").reset_index(drop=True)
    df.attrs["time_column"] = date_col  # the name it had (Timestamp, ds, ...), for files written back to the user
    return df


_OFFSET = r"\s*(?:Z|UTC|[+-]\d{2}:?\d{2})$"


def parse_dates(column: pd.Series, source: str = "the data") -> pd.Series:
    """Timestamps of ``column``, unparseable ones as NaT. A time zone is kept (one UTC offset throughout, or a zone
    the frame already carries). Text with several UTC offsets (local times of a zone with daylight saving) has no
    single zone to keep: sub-daily steps are read in UTC, where they stay evenly spaced, and daily or longer steps as
    the local dates they name (a local midnight is 23:00 or 22:00 in UTC); a warning says which."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return _numeric_dates(column, source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (FutureWarning, UserWarning))  # mixed offsets (pandas 2), format guessing
        try:
            dates = pd.to_datetime(column, errors="coerce")
        except ValueError:  # pandas 3 refuses mixed offsets
            dates = None
        if dates is not None and pd.api.types.is_datetime64_any_dtype(dates):
            return dates if pd.api.types.is_datetime64_any_dtype(column) else _day_first_if_better(column, dates)
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


def _readable(column: pd.Series, day_first: bool) -> pd.Series:
    """Which rows of ``column`` read as timestamps, month first (pandas' default) or day first, of a year after
    1700 (pandas reads a month name alone, "Jan", as January of the year 1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dates = pd.to_datetime(column, errors="coerce", utc=True, dayfirst=day_first)
        except (TypeError, ValueError):
            return pd.Series(False, index=column.index)
    return dates.notna() & (dates.dt.year > 1700)


def _all_dates(column: pd.Series) -> bool:
    """Whether every row reads as a timestamp, month first or day first (13/01/2024), as ``parse_dates`` reads."""
    return any(bool(_readable(column, day_first).all()) for day_first in (False, True))


def _time_column(df: pd.DataFrame, source: str) -> str | None:
    """The one text column named for time (``_TIME_NAMES``, first tier first, any case) whose every row is a date;
    None where there is no such name. Raises DataError where several columns of a tier are dates (which is meant?)
    or where the one named column has a value that is no date."""
    undated = []  # named for time, but some row is no date
    for tier in _TIME_NAMES:
        named = [c for c in df.columns if c.lower() in tier and not pd.api.types.is_numeric_dtype(df[c])]
        dated = [c for c in named if _all_dates(df[c])]
        if len(dated) > 1:
            raise DataError(f"no 'date' column in {source}, and several columns hold dates ({dated}): name the time "
                            f"column with --date-col (Python: date_col=)")
        if dated:
            return dated[0]
        undated += named
    if len(undated) == 1:
        raise DataError(f"no 'date' column in {source}, and its column '{undated[0]}' does not hold dates in every "
                        f"row ({_unreadable(df[undated[0]])}): fix it, or name the time column with --date-col "
                        f"(Python: date_col=)")
    return None


def _unreadable(column: pd.Series) -> str:
    """Why ``column`` is not all dates, in words: its first value that reads neither month first nor day first, or,
    where every value reads one way or the other, the first that each reading misses."""
    readings = {"month first": _readable(column, False), "day first": _readable(column, True)}
    neither = ~(readings["month first"] | readings["day first"])

    def first(bad: pd.Series) -> str:
        row = int(bad.to_numpy().argmax())
        value = column.iloc[row]
        return f"{'an empty cell' if pd.isna(value) else repr(value)} at data row {row + 1}"

    if not neither.any():
        return "; ".join(f"read {how}, {first(~ok)} is not a date" for how, ok in readings.items())
    alone = _readable(column[neither].iloc[:1], False).all() or _readable(column[neither].iloc[:1], True).all()
    return f"{first(neither)} " + ("is a date alone, but written in another order than the rows before it (day or "
                                   "month first throughout)" if alone else "is not a date")


def _day_first_if_better(column: pd.Series, dates: pd.Series) -> pd.Series:
    """The dates read day first ("13/01/2024") where that reads every row and the month-first reading does not; where
    both read every row, where only day first gives a regular grid, or (with gaps) only day first puts every row on
    one day of the month (01/02, 01/03, ... as months, not days)."""
    if not column.astype(str).str.contains(r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", regex=True).all():
        return dates
    day_first = pd.to_datetime(column, errors="coerce", dayfirst=True)
    if day_first.isna().any():
        return dates
    if dates.isna().any():
        return day_first
    even = [_has_frequency(d) for d in (dates, day_first)]
    if even[0] != even[1]:
        return day_first if even[1] else dates
    one_day = [d.dt.day.nunique() == 1 for d in (dates, day_first)]
    return day_first if one_day[1] and not one_day[0] else dates


def _has_frequency(dates: pd.Series) -> bool:
    """Whether pandas finds a frequency in the sorted timestamps (all of them, up to the first thousand)."""
    head = pd.DatetimeIndex(dates.sort_values().drop_duplicates().iloc[:1000])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces infer_freq returning an offset
        try:
            return len(head) >= 3 and pd.infer_freq(head) is not None
        except (TypeError, ValueError):
            return False


_CALENDAR_NUMBERS = ((1_000, 2_999, "%Y"), (100_001, 299_912, "%Y%m"), (10_000_101, 29_991_231, "%Y%m%d"))


def _numeric_dates(column: pd.Series, source: str = "the data") -> pd.Series:
    """Timestamps written as numbers: 2024 (a year), 202401 (year and month), 20240131 (year, month, day), or
    seconds / milliseconds / microseconds / nanoseconds since 1970, told apart by their size. Numbers that are none
    of these (row counters, spreadsheet serial days) raise DataError rather than become dates in 1970."""
    values = column.dropna()
    whole = bool(len(values)) and bool((values % 1 == 0).all())
    for low, high, fmt in _CALENDAR_NUMBERS:
        if whole and values.between(low, high).all():
            dates = pd.to_datetime(column.astype("Int64").astype(str), format=fmt, errors="coerce")
            if dates.notna().sum() == len(values):
                return dates
    size = values.abs().median() if len(values) else 0
    if size < 1e8:  # before 1973 in seconds: not a timestamp anyone writes as a number
        raise DataError(f"cannot read the numbers of column '{column.name}' of {source} as timestamps (they are "
                        f"not years, YYYYMM, YYYYMMDD or seconds since 1970); write the dates as text, e.g. 2024-01-31")
    unit = "s" if size < 1e11 else "ms" if size < 1e14 else "us" if size < 1e17 else "ns"
    return pd.to_datetime(column, unit=unit, errors="coerce")


def default_target(df: pd.DataFrame, source: str = "the data") -> str:
    """The column to forecast when none is named: 'OT' where there is one (the ETT files' name), else the only
    numeric column. Raises DataError naming the candidates where there are several or none."""
    if "OT" in df.columns:
        return "OT"
    numeric = [c for c in df.columns if c != "date" and pd.api.types.is_numeric_dtype(df[c])]
    if len(numeric) == 1:
        return numeric[0]
    if not numeric:
        raise DataError(f"{source} has no numeric column to forecast; columns are {list(df.columns)[:12]}")
    raise DataError(f"which column of {source} to forecast? It has {len(numeric)} numeric columns {numeric[:12]} and "
                    f"none named 'OT': name one with --target (Python: target=)")


def select_columns(df: pd.DataFrame, target: str, features: str, source: str = "data",
                   allow_missing: bool = False) -> pd.DataFrame:
    """The numeric value columns in model order: the other variates, then ``target`` last (all for M/MS, target for S).

    Raises DataError for an unknown target, non-numeric or infinite values, and missing (NaN) values unless
    ``allow_missing`` (they are then filled by ``fill_values``).
    """
    if features not in ("M", "S", "MS"):
        raise DataError(f"features must be M, S or MS, got {features!r}")
    if target not in df.columns or target == "date":  # "date": the time column, as normalize_frame names it
        cols = [c for c in df.columns if c != "date"]
        if target in ("date", df.attrs.get("time_column")):
            what = f"target column {target!r} of {source} is its time column, not a value to forecast"
        else:
            what = f"target column {target!r} not in {source}"
        raise DataError(f"{what}; its value columns are {cols[:12]} (--target, Python: target=)")
    others = [c for c in df.columns if c not in ("date", target)]
    cols = [target] if features == "S" else others + [target]
    values = df[cols]
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(values[c])]
    if bad:
        column = values[bad[0]]
        text = column.notna() & pd.to_numeric(column, errors="coerce").isna()  # (N,): a value that is no number
        first = f" ({column[text].iloc[0]!r} at {df['date'][text].iloc[0]} is not a number)" if text.any() else ""
        raise DataError(f"non-numeric column(s) {bad} in {source}{first}; drop them or convert them to numbers")
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
