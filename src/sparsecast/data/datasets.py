"""Built-in datasets (the paper's protocol per name) and preparing any CSV into scaled train/val/test windows."""

import warnings
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from ..errors import DataError
from ..timefeatures import freq_family, grid_index, normalize_freq, time_features
from .frame import default_target, fill_values, read_table, select_columns
from .scaler import StandardScaler
from .splits import n_windows, split_borders
from .windows import WindowSet


@dataclass(frozen=True)
class BuiltinDataset:
    file: str
    split: str
    target: str
    freq: str | None  # None: inferred from the timestamps


BUILTIN = {
    "ETTh1": BuiltinDataset("ETTh1.csv", "ett_hour", "OT", "h"),
    "ETTh2": BuiltinDataset("ETTh2.csv", "ett_hour", "OT", "h"),
    "ETTm1": BuiltinDataset("ETTm1.csv", "ett_minute", "OT", "15min"),
    "ETTm2": BuiltinDataset("ETTm2.csv", "ett_minute", "OT", "15min"),
    "WTH": BuiltinDataset("WTH.csv", "custom", "WetBulbCelsius", "h"),
    "weather": BuiltinDataset("weather.csv", "custom", "OT", "10min"),
    "exchange_rate": BuiltinDataset("exchange_rate.csv", "custom", "OT", "D"),
    "national_illness": BuiltinDataset("national_illness.csv", "custom", "OT", None),  # weekly, on Tuesdays
}
BUNDLED = {"ETTh1"}
FILL_FLAGS = "--fill ffill or --fill interpolate (Python: fill=)"
FILL_REMEDY = f"fill them with {FILL_FLAGS}, or fix the data"
FILLS = (None, "ffill", "interpolate")


def anchor_weekly(freq: str, first: pd.Timestamp) -> str:
    """A bare weekly alias ("W", which pandas anchors on Sunday) anchored on the weekday of the data's first row."""
    if freq.upper() == "W":
        return "W-" + first.day_name()[:3].upper()
    return freq


def regular_frame(df: pd.DataFrame, freq: str, fill: str | None, source: str,
                  published: bool = False, remedy: str = FILL_REMEDY,
                  freq_remedy: str = "check --freq", drop_repeats: bool = False,
                  columns: list[str] | None = None) -> pd.DataFrame:
    """Check the timestamps lie on the ``freq`` grid from the first to the last; fill gaps if asked.

    Raises DataError naming the first off-grid timestamp (a frequency that does not match the data; ``freq_remedy``
    says what to do) or the first gap (when ``fill`` is None; ``remedy`` says what to do). A ``published`` benchmark
    file keeps its rows as published (the paper protocols count rows, e.g. weather.csv has 9 gaps and repeats some
    rows): its gaps only warn unless ``fill`` is given. A row repeated exactly (``normalize_frame`` refuses a
    repeated time with other values) is kept where nothing is filled, so that training windows are cut as published,
    and dropped where gaps are filled or ``drop_repeats`` asks (the rows a fitted model forecasts from: a repeat
    would shift its lookback by a step); a warning says which.
    """
    repeats = int(df.duplicated("date").sum())

    def say_repeats(kept: bool) -> None:
        if repeats:
            what = "kept" if kept else "one row per time is kept"
            warnings.warn(f"{repeats} row(s) of {source} repeat an earlier row exactly; {what}", stacklevel=3)

    if repeats and drop_repeats:
        df = df.drop_duplicates("date", ignore_index=True)
    dates = pd.DatetimeIndex(df["date"])
    grid = pd.date_range(dates[0], dates[-1], freq=freq)
    unique = dates.unique()
    if len(unique) == len(grid) and (unique == grid).all():
        say_repeats(kept=not drop_repeats)
        return df
    off_grid = unique.difference(grid)
    if len(off_grid):
        step = dates[1] - dates[0] if len(dates) > 1 else "?"
        raise DataError(f"timestamp {off_grid[0]} of {source} is not on the {freq} grid that starts at {dates[0]} "
                        f"(rows are {step} apart): the frequency does not match the data; {freq_remedy}")
    missing = grid.difference(unique)
    if fill is None and published:
        say_repeats(kept=not drop_repeats)
        warnings.warn(f"{source} has {len(missing)} missing timestamp(s), the first at {missing[0]}; kept as "
                      f"published", stacklevel=2)
        return df
    if fill is None:
        raise DataError(f"{source} has {len(missing)} missing timestamp(s) at frequency {freq}, the first at "
                        f"{missing[0]}; {remedy}")
    if len(missing) > len(unique):  # most of it would be made up: rows at another frequency, not gaps
        raise DataError(f"{source} has {len(unique)} distinct timestamps over {len(grid)} steps of the {freq} grid: "
                        f"filling its gaps would make up {len(missing)} rows, more than it has; {freq_remedy}")
    say_repeats(kept=False)
    read = df[columns] if columns is not None else df.drop(columns="date").select_dtypes("number")
    values = int(read.isna().sum().sum())  # filled with the gaps
    also = f" and {values} missing value(s)" if values else ""
    warnings.warn(f"filled {len(missing)} missing timestamp(s){also} of {source} by {fill}", stacklevel=2)
    full = df.drop_duplicates("date").set_index("date").reindex(grid)
    if fill == "ffill":
        full = full.ffill()
    else:  # time interpolation for the numbers; a text column (a site name...) repeats its last value
        numeric = full.select_dtypes("number").columns
        full = full.ffill().assign(**{c: full[c].interpolate(method="time") for c in numeric})
    return full.rename_axis("date").reset_index()


def grid_rows(df: pd.DataFrame, freq: str, fill: str | None) -> int:
    """How many rows of ``df`` (a normalized frame) a run is cut from, as ``regular_frame`` leaves them: with
    ``fill``, the whole time grid where it has gaps. What a lookback is chosen from; a frame the run will refuse
    (dates off the grid, a bad frequency) counts its rows as given (the run's own preparation says what is
    wrong)."""
    dates = pd.DatetimeIndex(df["date"])
    try:
        grid = pd.date_range(dates[0], dates[-1], freq=anchor_weekly(normalize_freq(freq), dates[0]))
    except (DataError, ValueError):
        return len(df)
    unique = dates.unique()
    if fill is None or len(unique) == len(grid) or len(unique.difference(grid)):
        return len(df)
    return len(grid)


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and how windows are cut from it.

    Attributes:
        data: a built-in name (ETTh1, ETTh2, ETTm1, ETTm2, WTH, ...) or the path of a CSV.
        root_path: folder holding built-in files other than the bundled ETTh1 (e.g. ../shared/data).
        features: M (all -> all), S (target -> target), MS (all -> target).
        target: forecast column; None takes the built-in's (OT, WetBulbCelsius), else "OT" where the frame has
            it, else its only numeric column.
        freq: pandas frequency alias; None takes the built-in's or infers it from the timestamps.
        embed: time-stamp embedding the features are made for ("timeF", "fixed", "learned").
        fill: how to fill missing timestamps (gaps) and missing (NaN) values: None refuses such data, "ffill"
            repeats the last value, "interpolate" interpolates linearly in time.
        test_windows: score at most this many test windows, evenly spaced from the first origin to the last (0:
            every window); for models refit on every window (statsforecast's), whose cost grows with the windows.
        scaler_rows: fit the scaler on the first this many rows instead of the train split's (0). A run of
            model="auto" scales as the Forecaster it fits did: on the first 90% of the rows before the test split.
    """

    data: str = "ETTh1"
    root_path: str | None = None
    features: str = "S"
    target: str | None = None
    freq: str | None = None
    date_col: str = "date"
    seq_len: int = 96
    label_len: int = 48
    pred_len: int = 24
    embed: str = "timeF"
    fill: str | None = None
    season: int | None = None
    test_windows: int = 0
    scaler_rows: int = 0

    def __post_init__(self):
        if self.pred_len < 1:
            raise DataError(f"pred_len (--pred-len) must be at least 1, got {self.pred_len}")
        if self.seq_len < 1:
            raise DataError(f"seq_len (--seq-len) must be at least 1, got {self.seq_len}")
        if not 0 <= self.label_len <= self.seq_len:
            raise DataError(f"label_len must be between 0 and seq_len ({self.seq_len}), got {self.label_len}")
        if self.features not in ("M", "S", "MS"):
            raise DataError(f"features must be M, S or MS, got {self.features!r}")
        if self.fill not in FILLS:
            raise DataError(f"fill must be one of {FILLS}, got {self.fill!r}")
        if self.test_windows < 0:
            raise DataError(f"test_windows must be >= 0 (0: every test window), got {self.test_windows}")
        if self.season is not None and self.season < 1:
            raise DataError(f"season must be >= 1, got {self.season}")
        if self.scaler_rows < 0:
            raise DataError(f"scaler_rows must be >= 0 (0: the train split's rows), got {self.scaler_rows}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PreparedData:
    """Scaled windows of each split, with what is needed to undo the scaling and describe the columns."""

    splits: dict[str, WindowSet]
    scaler: StandardScaler
    columns: list[str]  # input columns in model order (target last)
    target_columns: list[str]  # forecast columns
    freq: str
    dates: pd.DatetimeIndex
    borders: dict[str, tuple[int, int]]

    @property
    def target_index(self) -> list[int]:
        return [self.columns.index(c) for c in self.target_columns]


def input_on_grid(df: pd.DataFrame, cfg: DataConfig, source: str, published: bool | None = None) -> pd.DataFrame:
    """Rows handed to a fitted model later (predict, backtest) on the time grid of its training rows: gaps filled as
    the run filled its own (``cfg.fill``, with a warning), refused without a fill (the model's lookback counts rows,
    and a missing one would shift every step before it), a row repeated exactly kept once; a built-in dataset's
    published rows kept as they are (its gaps warn only), as in training (``published``; None: whether
    ``cfg.data`` names one). Without a known frequency, the rows as they are."""
    if cfg.freq is None:
        return df
    freq = anchor_weekly(normalize_freq(cfg.freq), pd.Timestamp(df["date"].iloc[0]))
    published = cfg.data in BUILTIN if published is None else published
    return regular_frame(df, freq, cfg.fill, source, published=published,
                         remedy=f"the model was fit without a fill for gaps: fill them in the data, or fit again "
                                f"with {FILL_FLAGS}",
                         freq_remedy=f"the model was fit on {cfg.freq} rows", drop_repeats=not published)


def resolve_path(cfg: DataConfig) -> tuple[Path, BuiltinDataset | None]:
    if cfg.data in BUILTIN:
        spec = BUILTIN[cfg.data]
        if cfg.root_path:
            return Path(cfg.root_path) / spec.file, spec
        if cfg.data in BUNDLED:
            return Path(str(resources.files("sparsecast.data") / "bundled" / spec.file)), spec
        raise DataError(f"{cfg.data} is not bundled; give --root-path, the folder holding {spec.file}")
    return Path(cfg.data), None


def infer_freq(dates: pd.DatetimeIndex, source: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces infer_freq returning an offset; we accept both
        freq = pd.infer_freq(dates[: min(len(dates), 1000)]) if len(dates) >= 3 else None
    freq = getattr(freq, "freqstr", freq)
    if freq is None and len(dates) >= 3:
        # Gaps or a few odd rows defeat pandas' inference on the whole: take the frequency pandas infers most often
        # over short runs of rows on whose grid every date lies (a daily series with gaps is still daily, not 24h; a
        # monthly one still MS), else the most common spacing (whole days as days), and let the grid check report
        # where the data departs from it.
        freq = _runs_freq(dates)
        step = pd.Series(dates).diff().dropna().mode() if freq is None else []
        if len(step) and step.iloc[0] > pd.Timedelta(0):
            step = step.iloc[0]
            whole_days = step % pd.Timedelta(days=1) == pd.Timedelta(0)
            freq = ("D" if step.days == 1 else f"{step.days}D") if whole_days else to_offset(step).freqstr
    if freq is None:
        raise DataError(f"cannot infer the time frequency of {source}; give it with --freq (e.g. h, 15min, D, W)")
    return freq


def _runs_freq(dates: pd.DatetimeIndex, run: int = 6, runs: int = 16) -> str | None:
    """The frequency pandas infers most often over ``runs`` evenly spaced runs of ``run`` consecutive dates, among
    those whose grid holds every date (weekdays that later become every day are daily, not business days), or
    None."""
    starts = np.unique(np.linspace(0, max(0, len(dates) - run), runs).astype(int)) if len(dates) >= run else []
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a in starts:
            f = pd.infer_freq(dates[a:a + run])
            if f is not None:
                found.append(getattr(f, "freqstr", f))
        for f in pd.Series(found).value_counts(sort=True).index:  # most common first
            try:
                if dates.isin(pd.date_range(dates[0], dates[-1], freq=f)).all():
                    return f
            except ValueError:
                continue
    return None


# Which rows each split of a CSV holds, for messages (val and test also read seq_len rows before their own).
SPLIT_PARTS = {"custom": {"train": " (the first 70% of the rows, fewer where validation and test need a horizon each)",
                          "val": " (the next 10%, at least a horizon)", "test": " (the last 20%, at least a horizon)"},
               "fit": {"train": " (the first 90% of the rows)", "val": " (the last 10%)"}}


def prepare_data(cfg: DataConfig, frame: pd.DataFrame | None = None, train_windows: int = 1) -> PreparedData:
    """Read the file of ``cfg.data`` and prepare it with its protocol (see ``prepare_frame``); ``frame``: the file
    as ``read_table`` returned it already, not read again; ``train_windows``: as ``prepare_frame`` (0 to score a
    saved model, which trains on nothing)."""
    path, builtin = resolve_path(cfg)
    df = read_table(path, cfg.date_col) if frame is None else frame
    return prepare_frame(df, cfg, builtin.split if builtin else "custom", str(path), builtin, train_windows)


def regular_rows(df: pd.DataFrame, cfg: DataConfig, source: str = "the data",
                 builtin: BuiltinDataset | None = None) -> tuple[pd.DataFrame, str, str]:
    """The rows the splits are cut from: ``df`` on its regular time grid, gaps and missing values filled as
    ``cfg.fill`` asks (a built-in dataset keeps its published gaps). Returns them, the target column and the
    frequency."""
    target = cfg.target or (builtin.target if builtin else default_target(df, source))
    used = list(select_columns(df, target, cfg.features, source=source,
                               allow_missing=cfg.fill is not None).columns)  # before filling
    freq = cfg.freq or (builtin.freq if builtin else None) or infer_freq(pd.DatetimeIndex(df["date"]), source)
    freq = anchor_weekly(normalize_freq(freq), pd.Timestamp(df["date"].iloc[0]))
    freq_family(freq)
    df = regular_frame(df, freq, cfg.fill, source, published=builtin is not None, columns=used)
    if cfg.fill is not None:  # the columns the run reads (the counts in the warnings are theirs)
        df = fill_values(df, used, cfg.fill, source)
    return df, target, freq


def prepare_frame(df: pd.DataFrame, cfg: DataConfig, split: str = "custom", source: str = "the data",
                  builtin: BuiltinDataset | None = None, train_windows: int = 1) -> PreparedData:
    """Split a normalized frame chronologically, fit the scaler on the train rows only, and cut windows of every
    split. ``df`` has a first column ``date`` (see ``normalize_frame``) and the value columns. Every split needs a
    window, the train split ``train_windows`` (0 for a model with nothing to train)."""
    df, target, freq = regular_rows(df, cfg, source, builtin)
    values = select_columns(df, target, cfg.features, source=source)
    dates = pd.DatetimeIndex(df["date"])
    borders = split_borders(split, len(df), cfg.seq_len, cfg.pred_len)
    last = max(end for _, end in borders.values())
    if last > len(df):
        raise DataError(f"{source} has {len(df)} rows but the {cfg.data} protocol needs {last}")
    for name, (start, end) in borders.items():
        if n_windows(end - start, cfg.seq_len, cfg.pred_len) < (train_windows if name == "train" else 1):
            part = SPLIT_PARTS.get(split, {}).get(name, "")
            raise DataError(f"the {name} split{part} of {source} has {end - start} rows, fewer than seq_len + "
                            f"pred_len = {cfg.seq_len + cfg.pred_len}; use a shorter --seq-len/--pred-len or more data")
    arr = values.to_numpy()
    train_start, train_end = (0, cfg.scaler_rows) if cfg.scaler_rows else borders["train"]
    if "test" in borders and train_end > borders["test"][0] + cfg.seq_len:
        raise DataError(f"scaler_rows {cfg.scaler_rows} reaches into the test rows of {source} (they start at row "
                        f"{borders['test'][0] + cfg.seq_len})")
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below, with a message that says what to do
        scaler = StandardScaler.fit(arr[train_start:train_end])
        scaled = scaler.transform(arr)
    if not (np.isfinite(scaler.std).all() and np.isfinite(scaled).all()):
        bad = [c for c, ok in zip(values.columns, np.isfinite(scaled).all(0) & np.isfinite(scaler.std)) if not ok]
        raise DataError(f"values of column(s) {bad} in {source} are too large to scale (float64 overflow); "
                        f"rescale them (e.g. to thousands) first")
    columns = list(values.columns)
    target_columns = columns if cfg.features == "M" else [target]
    tgt = [columns.index(c) for c in target_columns]
    marks = time_features(dates, freq, cfg.embed)
    index = grid_index(dates, freq)
    splits = {name: WindowSet(scaled[s:e], scaled[s:e][:, tgt], marks[s:e], cfg.seq_len, cfg.pred_len, index[s:e])
              for name, (s, e) in borders.items()}
    return PreparedData(splits=splits, scaler=scaler, columns=columns, target_columns=target_columns, freq=freq,
                        dates=dates, borders=borders)
