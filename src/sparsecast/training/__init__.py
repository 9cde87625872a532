"""Model-agnostic training: the loop, schedules and metrics."""

from .metrics import METRIC_NAMES, forecast_metrics
from .schedules import SCHEDULES
from .trainer import History, TrainConfig, evaluate_loss, fit, predict, seed_everything

__all__ = ["History", "METRIC_NAMES", "SCHEDULES", "TrainConfig", "evaluate_loss", "fit", "forecast_metrics",
           "predict", "seed_everything"]
