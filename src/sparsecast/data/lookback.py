"""A lookback (seq_len) for a user's series when none is given: from its frequency, fitted to its length."""

from ..errors import DataError
from ..timefeatures import is_subdaily, season_length
from .splits import train_rows

MIN_TRAIN_WINDOWS = 16  # fewer training windows than this is too little to fit anything


def preferred_lookback(freq: str, pred_len: int) -> int:
    """Two weeks of hourly data (336 steps, what the LTSF table chose on validation) for sub-daily series; else
    four seasons of short seasons (4 weeks of days) and two of long ones (two years of weeks or months), and never
    less than twice the horizon."""
    season = season_length(freq)
    base = 336 if is_subdaily(freq) else (4 * season if season < 12 else 2 * season)
    return max(base, 2 * pred_len, 8)


def fit_lookback(freq: str, n_rows: int, pred_len: int, min_lookback: int = 1, source: str = "the series",
                 preferred: int | None = None, min_train_windows: int = MIN_TRAIN_WINDOWS, split: str = "fit") -> int:
    """``preferred`` (default ``preferred_lookback``) shortened until the training rows of ``split`` ("fit": 90%
    training, the last 10% validation, at least one horizon; "custom": 70 / 10 / 20% for scoring, validation and
    test at least one horizon each) hold at least ``min_train_windows`` training windows; with 0 (a model without
    weights: nothing to train) until the lookback fits in the training rows, so that the validation split, which
    starts one lookback before its rows, holds whole windows. DataError naming the minimum length when even
    ``min_lookback`` does not fit."""
    def longest(n: int) -> int:  # training windows = n_train - seq_len - pred_len + 1
        train = train_rows(split, n, pred_len)
        return train if min_train_windows == 0 else train - pred_len + 1 - min_train_windows

    if longest(n_rows) < min_lookback:
        need = next(n for n in range(n_rows + 1, 10 ** 9) if longest(n) >= min_lookback)
        windows = f", {min_train_windows} training window(s)," if min_train_windows else ""
        held_out = f"the last {pred_len} rows or 10% for validation" if split == "fit" else \
            f"{pred_len} rows or 10% for validation and {pred_len} or 20% for test"
        raise DataError(f"{source} has {n_rows} rows: forecasting {pred_len} steps needs at least {need} (a "
                        f"lookback of {min_lookback}{windows} and {held_out}); "
                        f"give a shorter horizon (--pred-len, Python: pred_len=) or more rows")
    return max(min_lookback, min(preferred or preferred_lookback(freq, pred_len), longest(n_rows)))


def statistical_lookback(freq: str, pred_len: int, season: int) -> int:
    """What a statistical model (fit on each window's lookback alone) prefers: ten seasons, and never less than the
    neural models' lookback; at least one season."""
    return max(preferred_lookback(freq, pred_len), 10 * season)
