"""How the Forecaster holds a user's frame: one normalized frame per series id (None for a wide frame), and back."""

import pandas as pd

from ..errors import DataError

LONG_COLUMNS = ("unique_id", "ds", "y")
UNSPLIT = (";", "\t", "|")  # separators whose fields, left unsplit, make one column named like "Date;OT;0"


def source(uid) -> str:
    """How messages name a series: the wide frame, or one series of a long frame."""
    return "the DataFrame" if uid is None else f"series {uid!r}"


def is_long(df: pd.DataFrame) -> bool:
    return set(LONG_COLUMNS) <= set(df.columns)


def joined(frames: dict, long: bool) -> pd.DataFrame:
    """Normalized frames per series (a 'date' column) back as the one frame ``fit`` takes: wide, or long."""
    if not long:
        return frames[None]
    return pd.concat([f.rename(columns={"date": "ds"}).assign(unique_id=uid) for uid, f in frames.items()],
                     ignore_index=True)


def recent_to_json(recent: pd.DataFrame) -> dict:
    """A series' recent rows as JSON; zone-aware dates as UTC text with the zone's name (a window across a
    daylight-saving change holds two UTC offsets, from which text alone cannot name the zone again)."""
    tz = recent["date"].dt.tz
    dates = recent["date"] if tz is None else recent["date"].dt.tz_convert("UTC")
    return {"recent": recent.assign(date=dates.astype(str)).to_dict(orient="list"),
            **({} if tz is None else {"tz": str(tz)})}


def recent_from_json(entry: dict) -> pd.DataFrame:
    """The rows ``recent_to_json`` wrote, dates parsed (in their zone where one was saved)."""
    recent = pd.DataFrame(entry["recent"])
    tz = entry.get("tz")
    dates = pd.to_datetime(recent["date"]) if tz is None else \
        pd.to_datetime(recent["date"], utc=True).dt.tz_convert(tz)
    return recent.assign(date=dates)


def as_frame(data: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """A Series (one variable, its timestamps as the index) as a one-column frame named for it ('y' without a
    name); a frame as it is."""
    if isinstance(data, pd.Series):
        return data.to_frame(name="y" if data.name is None else str(data.name))
    seps = [s for s in UNSPLIT if len(data.columns) == 1 and s in str(data.columns[0])]
    if seps and _rows_hold(data, seps[0]):  # the header and the rows hold the separator: the file's lines, unsplit
        name, sep = str(data.columns[0]), seps[0]
        raise DataError(f"the DataFrame has one column, {name[:60]!r}: its file's fields were not split at "
                        f"{sep!r}; read it with sparsecast.read_table(path), which finds the separator and decimal "
                        f"commas as the command line does, or pd.read_csv(path, sep={sep!r}"
                        + (", decimal=','" if sep == ";" else "") + ")")
    return data


def _rows_hold(data: pd.DataFrame, sep: str) -> bool:
    """Whether the first rows of a one-column frame hold ``sep`` in their text: in the column, or in the index, where
    pandas puts a line's first field when a comma (a decimal comma) split it from the rest."""
    head = data.head()
    texts = [head.iloc[:, 0]] if not pd.api.types.is_numeric_dtype(head.iloc[:, 0]) else []
    index = head.index
    if not (isinstance(index, pd.DatetimeIndex) or pd.api.types.is_numeric_dtype(index.dtype)):
        texts.append(pd.Series([str(i) for i in index]))  # a MultiIndex where the line held several commas
    return any(t.astype(str).str.contains(sep, regex=False).all() for t in texts)

