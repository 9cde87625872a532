"""The lookback a model gets on a user's series when none is given: ``data.lookback``'s choice from the frequency
and the series' length, with what the model needs (a patch at least; the statistical models' seasons)."""

from ..data.lookback import MIN_TRAIN_WINDOWS, fit_lookback, statistical_lookback
from ..models import model_classes
from ..models.registry import STATISTICAL
from ..timefeatures import season_length


def choose_lookback(model_name: str, settings: dict, freq: str, n_rows: int, pred_len: int, season: int | None = None,
                    source: str = "the series", split: str = "fit") -> int:
    """A lookback for a user's series when none is given: from the frequency, fitted to its length (``data.lookback``);
    at least a patch for the patch models; for the statistical ones (fit on each window's lookback, nothing to
    train) ten seasons, at least one; for seasonal naive, which reads the last season alone, one season (more would
    only ask more history of predict's input, and of an ensemble it joins)."""
    _, cfg_cls = model_classes(model_name)
    shortest = settings.get("patch_len", getattr(cfg_cls, "patch_len", 1))
    preferred, windows = None, MIN_TRAIN_WINDOWS
    if model_name in STATISTICAL:
        season = season_length(freq, season)
        shortest, windows = season, 0
        preferred = season if model_name == "seasonal_naive" else statistical_lookback(freq, pred_len, season)
    return fit_lookback(freq, n_rows, pred_len, min_lookback=shortest, source=source, preferred=preferred,
                        min_train_windows=windows, split=split)
