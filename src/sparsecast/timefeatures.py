"""Calendar features of timestamps, for the time-stamp embedding.

"timeF" features are continuous, GluonTS-style, each scaled to [-0.5, 0.5], chosen by the data's frequency.
"fixed"/"learned" embeddings take integer calendar indices: month, day, weekday, hour, minute // 15.
"""

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

# Continuous features, each x -> value in [-0.5, 0.5].
_FEATURES = {
    "second_of_minute": lambda d: d.second / 59.0 - 0.5,
    "minute_of_hour": lambda d: d.minute / 59.0 - 0.5,
    "hour_of_day": lambda d: d.hour / 23.0 - 0.5,
    "day_of_week": lambda d: d.day_of_week / 6.0 - 0.5,
    "day_of_month": lambda d: (d.day - 1) / 30.0 - 0.5,
    "day_of_year": lambda d: (d.day_of_year - 1) / 365.0 - 0.5,
    "week_of_year": lambda d: (d.isocalendar().week.to_numpy() - 1) / 52.0 - 0.5,
    "month_of_year": lambda d: (d.month - 1) / 11.0 - 0.5,
}

# Frequency family -> features, finest first (as GluonTS/Informer choose them).
_BY_FAMILY = {
    "s": ["second_of_minute", "minute_of_hour", "hour_of_day", "day_of_week", "day_of_month", "day_of_year"],
    "t": ["minute_of_hour", "hour_of_day", "day_of_week", "day_of_month", "day_of_year"],
    "h": ["hour_of_day", "day_of_week", "day_of_month", "day_of_year"],
    "d": ["day_of_week", "day_of_month", "day_of_year"],
    "b": ["day_of_week", "day_of_month", "day_of_year"],
    "w": ["day_of_month", "week_of_year"],
    "m": ["month_of_year"],
    "q": ["month_of_year"],
    "a": ["month_of_year"],
}

# pandas offset name prefix -> family
_OFFSET_FAMILY = {
    "Second": "s", "Minute": "t", "Hour": "h", "Day": "d", "BusinessDay": "b", "CustomBusinessDay": "b",
    "Week": "w", "MonthEnd": "m", "MonthBegin": "m", "BusinessMonthEnd": "m", "BusinessMonthBegin": "m",
    "QuarterEnd": "q", "QuarterBegin": "q", "YearEnd": "a", "YearBegin": "a",
}

CALENDAR_FIELDS = ("month", "day", "weekday", "hour", "minute")  # integer features of fixed/learned embeddings


def normalize_freq(freq: str) -> str:
    """A pandas offset alias from a user's frequency ('h', '15min', 't', 'D', 'W', 'M', 'B', ...)."""
    alias = {"t": "min", "m": "ME", "a": "YE", "q": "QE"}.get(freq.lower(), freq) if freq.isalpha() else freq
    if alias.isalpha() and alias.lower() in {"h", "d", "b", "w", "s"}:
        alias = alias.lower() if alias.lower() in {"h", "s"} else alias.upper()
    try:
        to_offset(alias)
    except ValueError as e:
        raise ValueError(f"unknown frequency {freq!r}: use a pandas offset alias such as h, 15min, D, B, W, ME") from e
    return alias


def freq_family(freq: str) -> str:
    """The feature family of a frequency: one of s, t, h, d, b, w, m, q, a."""
    name = type(to_offset(normalize_freq(freq))).__name__
    if name not in _OFFSET_FAMILY:
        raise ValueError(f"frequency {freq!r} ({name}) has no time features; use h, min, s, D, B, W, ME, QE or YE")
    return _OFFSET_FAMILY[name]


def n_time_features(freq: str, embed: str) -> int:
    """Number of columns ``time_features`` returns."""
    return len(_BY_FAMILY[freq_family(freq)]) if embed == "timeF" else len(CALENDAR_FIELDS)


def time_features(dates, freq: str, embed: str) -> np.ndarray:
    """Time-stamp features of ``dates`` for the embedding ``embed`` ("timeF", "fixed" or "learned").

    Returns:
        float32 array (N, n_time_features(freq, embed)).
    """
    d = pd.DatetimeIndex(dates)
    if embed == "timeF":
        cols = [np.asarray(_FEATURES[name](d), dtype=np.float64) for name in _BY_FAMILY[freq_family(freq)]]
    else:
        cols = [d.month, d.day, d.day_of_week, d.hour, d.minute // 15]
        cols = [np.asarray(c, dtype=np.float64) for c in cols]
    return np.stack(cols, axis=1).astype(np.float32)


# Steps per season by offset type: a day of hours or minutes, a week of days, a year of weeks, months, quarters.
_SEASON_BY_OFFSET = {"Day": 7, "BusinessDay": 5, "Week": 52, "MonthEnd": 12, "MonthBegin": 12, "QuarterEnd": 4,
                     "QuarterBegin": 4, "YearEnd": 1, "YearBegin": 1}


def season_length(freq: str, season: int | None = None) -> int:
    """The natural season of a frequency in steps: daily for sub-daily data (24 for hourly, 96 for 15 minutes),
    weekly for days (7; 5 business days), yearly for weeks (52), months (12) and quarters (4); 1 for years. A
    ``season`` the user gave (``--season``; 0 or None: not given) wins."""
    if season:
        return season
    offset = to_offset(normalize_freq(freq))
    name = type(offset).__name__
    if name in _SEASON_BY_OFFSET:
        return _SEASON_BY_OFFSET[name]
    return max(1, int(pd.Timedelta(days=1) / pd.Timedelta(offset))) if is_subdaily(freq) else 1


def is_subdaily(freq: str) -> bool:
    """Whether steps of ``freq`` are shorter than a day (hours, minutes, seconds)."""
    offset = to_offset(normalize_freq(freq))
    try:
        return pd.Timedelta(offset) < pd.Timedelta(days=1)
    except ValueError:  # calendar offsets (months, business days, ...) have no fixed length
        return False


_EPOCH = pd.Timestamp("1970-01-01")
_MONTHS_PER_STEP = {"MonthEnd": 1, "MonthBegin": 1, "BusinessMonthEnd": 1, "BusinessMonthBegin": 1, "QuarterEnd": 3,
                    "QuarterBegin": 3, "YearEnd": 12, "YearBegin": 12}


def grid_index(dates, freq: str) -> np.ndarray:
    """Each timestamp's position on the grid of ``freq``, counted from 1970-01-01, so that ``index % season`` is the
    same phase of the season (the hour of the day for hourly data and a season of 24) in every frame of a series:
    the training rows, a later CSV of it, its future.

    Fixed steps (hours, minutes, days, weeks) count whole steps since the reference; months, quarters and years count
    calendar months; business days count weekdays. A season that is not a whole number of steps of the calendar
    (52 weeks in a year) drifts by the remainder, as seasonal naive does.

    Returns:
        int64 array (N,).
    """
    d = pd.DatetimeIndex(dates)
    offset = to_offset(normalize_freq(freq))
    name = type(offset).__name__
    if d.tz is not None:
        # Steps shorter than a day count in absolute time (UTC: no repeated or missing hour at a DST change), calendar
        # steps on the local calendar (a local midnight is a day boundary whatever the offset that day).
        d = d.tz_convert("UTC").tz_localize(None) if is_subdaily(freq) else d.tz_localize(None)
    if name in _MONTHS_PER_STEP:
        months = d.year.to_numpy().astype(np.int64) * 12 + d.month.to_numpy() - 1 - 1970 * 12
        return months // (_MONTHS_PER_STEP[name] * offset.n)
    if name in ("BusinessDay", "CustomBusinessDay"):
        days = d.normalize().to_numpy().astype("datetime64[D]")
        return np.busday_count(np.datetime64("1970-01-05"), days).astype(np.int64) // offset.n
    step = pd.Timedelta(days=7 * offset.n) if name == "Week" else pd.Timedelta(offset)
    return np.asarray((d - _EPOCH) // step, dtype=np.int64)
