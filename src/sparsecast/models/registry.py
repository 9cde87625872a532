"""Models by name, each with its frozen config class and the series wrappers it gets unless told otherwise."""

from ..timefeatures import is_subdaily
from .baselines import BaselineConfig, DLinear, RepeatLast
from .ensemble import Ensemble, EnsembleConfig
from .informer import Informer, InformerConfig
from .longpatch import LongPatch, LongPatchConfig
from .patchtst import PatchTST, PatchTSTConfig
from .series import SeriesConfig, wrap
from .sparse_transformer import SparseTransformer, SparseTransformerConfig
from .statistical import AutoARIMA, AutoETS, AutoTheta, SeasonalNaive, StatisticalConfig

MODELS = {
    "informer": (Informer, InformerConfig),
    "longpatch": (LongPatch, LongPatchConfig),
    "patchtst": (PatchTST, PatchTSTConfig),
    "dlinear": (DLinear, BaselineConfig),
    "repeat_last": (RepeatLast, BaselineConfig),
    "seasonal_naive": (SeasonalNaive, StatisticalConfig),
    "auto_ets": (AutoETS, StatisticalConfig),
    "auto_arima": (AutoARIMA, StatisticalConfig),
    "auto_theta": (AutoTheta, StatisticalConfig),
    "sparse_transformer": (SparseTransformer, SparseTransformerConfig),
    "ensemble": (Ensemble, EnsembleConfig),  # built by model="auto" from fitted members, not trained by name
}
FORECASTERS = ("informer", "longpatch", "patchtst", "dlinear", "repeat_last", "seasonal_naive", "auto_ets",
               "auto_arima", "auto_theta")
STATISTICAL = ("seasonal_naive", "auto_ets", "auto_arima", "auto_theta")  # no weights: nothing to train
# The forecasters whose forecast of a channel reads the other input channels (features MS: the covariates); every
# other one forecasts each channel from its own history, and so does any model under channel independence.
READS_COVARIATES = ("informer",)


def covariates_note(model_name: str, channel_independent: bool, target: str, others: list[str]) -> str | None:
    """With features MS: one line saying so when the model forecasts ``target`` from its own history, so that the
    ``others`` columns do not inform it; None when they do (or there are none)."""
    if not others or model_name in READS_COVARIATES and not channel_independent:
        return None
    return (f"note: {model_name} forecasts {target} from its own history: the other column(s) {others[:5]} do not "
            f"inform it (it is the same model as with features S); a model that reads them: "
            f"{' or '.join(READS_COVARIATES)}")
# model="auto" validates these on the last horizons of the data and weights their forecasts by the inverse of their
# validation MSE (forecasting/auto.py; the statsforecast ones only where the 'stats' extra is installed). On the real
# univariate validation set (benchmarks/results/auto_combination) these five, weighted, scored best: AutoARIMA joined
# once its long-season fits took seconds (models/statistical.py), and AutoTheta, the weakest alone, left (it lowered
# the weighted mean's score on daily, weekly and monthly series alike).
AUTO, ENSEMBLE = "auto", "ensemble"
AUTO_CANDIDATES = ("longpatch", "seasonal_naive", "auto_ets", "auto_arima", "dlinear")
# Candidates model="auto" leaves out of sub-daily data, with why: what they cost there, with nothing to show for it.
AUTO_DAILY_OR_COARSER = {"auto_arima": "on ETTh1 (hourly, one target) it made auto's fit 426 s against 145 s without it; "
                                       "one fit on ten seasons of 96 steps took 10 s, of 144 steps 170 s; the "
                                       "validation set has no sub-daily series to say it helps there"}
# Series wrappers by model when the run does not choose (models/series.py): the patch models are built around
# instance normalization, as in PatchTST; the paper's Informer and the baselines run on the data as it is.
SERIES_DEFAULTS = {"longpatch": SeriesConfig(revin=True), "patchtst": SeriesConfig(revin=True)}
# Models that take the daily profile out of sub-daily data unless told otherwise (deseason; LongPatch then keeps it
# only where its closed-form start validates better with it): on ETTh1's validation windows it lowered LongPatch's
# loss at every horizon and both lookbacks (and on ETTm1's at 96); on the daily and coarser real univariate series it
# did not help (0.686 against 0.682), so it stays off there (benchmarks/results/ltsf/README.md).
DESEASON_SUBDAILY = {"longpatch"}


# Training settings by model when the run does not choose (the CLI's unset flags, Forecaster's unset keywords);
# others train with TrainConfig's defaults, the Informer paper's. The patch models' are the LTSF table's.
TRAIN_DEFAULTS = {
    "longpatch": {"epochs": 10, "batch_size": 128, "lr": 1e-4, "patience": 2, "lradj": "type3"},
    "patchtst": {"epochs": 10, "batch_size": 128, "lr": 1e-4, "patience": 3, "lradj": "type3"},
}


def train_defaults(name: str | None) -> dict:
    return dict(TRAIN_DEFAULTS.get(name, {}))


def model_classes(name: str):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name]


def build_saved(model_name: str, model: dict, series: dict, n_channels: int, c_out: int):
    """The untrained model that saved config dicts describe (``model``: its config, ``series``: its SeriesConfig),
    wrapped as it was trained."""
    model_cls, cfg_cls = model_classes(model_name)
    return wrap(model_cls(cfg_cls.from_dict(model)), SeriesConfig(**series), n_channels, c_out)


def series_config(name: str, settings: dict, freq: str | None = None) -> SeriesConfig:
    """The model's default series wrappers on data of frequency ``freq``, overridden by the given ``settings``
    (revin, channel_independent, deseason...)."""
    base = SERIES_DEFAULTS.get(name, SeriesConfig()).to_dict()
    if name in DESEASON_SUBDAILY and freq is not None and is_subdaily(freq):
        base["deseason"] = True
    return SeriesConfig(**{**base, **{k: v for k, v in settings.items() if v is not None}})
