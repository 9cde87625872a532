"""Statistical forecasters on the neural models' interface: seasonal naive (ours) and statsforecast's AutoETS,
AutoARIMA and AutoTheta.

Each is a local model: for every window and forecast channel it is fit on that window's lookback alone and
forecasts the horizon, so it reads exactly the rows a neural model of the same seq_len reads, and runs through the
same training, scoring, prediction, interval and save/load code (it has no weights: the run folder holds only its
config). statsforecast is an optional extra (``pip install 'sparsecast[stats]'``): it pins pandas below 3 and
brings numba, statsmodels and pyarrow, which the neural models do not need.

Notation: B batch, L seq_len, P pred_len, C input channels, C_out forecast channels (the last C_out of C).
"""

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..checks import require_positive, require_targets_in_inputs
from ..errors import MissingExtraError
from ..timefeatures import season_length

STATSFORECAST = {"auto_ets": "AutoETS", "auto_arima": "AutoARIMA", "auto_theta": "AutoTheta"}


@dataclass(frozen=True)
class StatisticalConfig:
    """Shared by the statistical models.

    Attributes:
        season: steps per season; 0 takes it from ``freq`` (24 for hourly data, 7 for daily, 12 for monthly...).
    """

    enc_in: int = 1
    c_out: int = 1
    seq_len: int = 96
    pred_len: int = 24
    freq: str = "h"
    season: int = 0

    def __post_init__(self):
        require_positive(self, ("enc_in", "c_out", "seq_len", "pred_len"))
        if self.season < 0:
            raise ValueError(f"season must be >= 0, got {self.season}")
        require_targets_in_inputs(self)
        if self.season_length > self.seq_len:
            raise ValueError(f"the season ({self.season_length} steps) is longer than the lookback (seq_len "
                             f"{self.seq_len}); give a longer seq_len or a shorter season")

    @property
    def season_length(self) -> int:
        return season_length(self.freq, self.season)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StatisticalConfig":
        return cls(**d)


def seasonal_naive(history: Tensor, season: int, pred_len: int) -> Tensor:
    """Each horizon step h takes the value one season (or whole seasons) before it: history[L - m + (h mod m)].

    Shape:
        history: (N, L, C) with L >= season; returns (N, P, C).
    """
    L = history.shape[1]
    index = L - season + torch.arange(pred_len) % season  # (P,)
    return history[:, index]


class SeasonalNaive(nn.Module):
    """Each horizon step repeats the value one season (or whole seasons) before it."""

    def __init__(self, config: StatisticalConfig):
        super().__init__()
        self.config = config

    def forward(self, x: Tensor, x_mark: Tensor, future_mark: Tensor, origin: Tensor | None = None) -> Tensor:
        forecast = seasonal_naive(x, self.config.season_length, future_mark.shape[1])  # (B, P, C)
        return forecast[..., -self.config.c_out:]  # (B, P, C_out)


def statsforecast_class(name: str):
    """The statsforecast model class behind one of our names; a clear error when the extra is not installed."""
    try:
        from statsforecast import models
    except ImportError as e:
        raise MissingExtraError(f"model {name!r} needs statsforecast: pip install 'sparsecast[stats]'") from e
    return getattr(models, STATSFORECAST[name])


class StatsForecastModel(nn.Module):
    """A statsforecast model fit on each window's lookback, per forecast channel (subclasses name which)."""

    name = ""
    refits_per_window = True  # each forecast fits a model: callers space out the windows they score in bulk

    def __init__(self, config: StatisticalConfig):
        super().__init__()
        self.config = config
        self.model_cls = statsforecast_class(self.name)

    def forward(self, x: Tensor, x_mark: Tensor, future_mark: Tensor, origin: Tensor | None = None) -> Tensor:
        c_out, P = self.config.c_out, future_mark.shape[1]
        y = x[..., -c_out:].detach().double().cpu().numpy()  # (B, L, C_out)
        out = np.empty((len(y), P, c_out))
        options = self.options(y.shape[1])
        for b in range(len(y)):
            for c in range(c_out):
                model = self.model_cls(season_length=self.config.season_length, **options)
                out[b, :, c] = model.forecast(y=y[b, :, c], h=P)["mean"]
        return torch.as_tensor(out, dtype=x.dtype, device=x.device)  # (B, P, C_out)

    def options(self, length: int) -> dict:
        """statsforecast settings beyond the season for a lookback of ``length`` steps (none by default)."""
        return {}


class AutoETS(StatsForecastModel):
    name = "auto_ets"


class AutoARIMA(StatsForecastModel):
    """Hyndman and Khandakar's stepwise search, with R's forecast::auto.arima rule for when to approximate the
    likelihood during the search (series longer than 150 steps or seasons longer than 12; statsforecast never does
    by default), and on seasons longer than 24 steps seasonal AR / MA orders of at most 1: a seasonal AR(2) at lag 52
    makes a state of over a hundred values, and one such fit on ten years of weekly data took 96 s against 1 s with
    the cap (exchange_rate, benchmarks/results/univariate)."""

    name = "auto_arima"
    LONG_SEASON = 24

    def options(self, length: int) -> dict:
        m = self.config.season_length
        capped = {"max_P": 1, "max_Q": 1} if m > self.LONG_SEASON else {}
        return {"approximation": length > 150 or m > 12, **capped}


class AutoTheta(StatsForecastModel):
    name = "auto_theta"
