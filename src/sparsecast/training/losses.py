"""Training losses by name: what ``TrainConfig.loss`` chooses and early stopping validates with.

Each takes (prediction, target) of the same shape and returns the mean over every element. "mse" is what the
papers train and score with; "mae" trains for the median, the forecast MAE scores best (neuralforecast's models
train on it by default); "huber" is squared below one standard deviation of the scaled series and absolute above it,
so a few outlying windows pull less than under "mse".
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def huber_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Huber loss with delta 1 (one unit of the scaled series)."""
    return F.huber_loss(pred, target, delta=1.0)


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": F.mse_loss,
    "mae": F.l1_loss,
    "huber": huber_loss,
}
