"""Honest baselines on the same interface as Informer: repeat-last-value and DLinear (Zeng et al., AAAI 2023).

Notation: B batch, L seq_len, P pred_len, C channels.
"""

from dataclasses import asdict, dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import require_positive, require_targets_in_inputs


@dataclass(frozen=True)
class BaselineConfig:
    """Shared by the baselines. ``c_out`` trailing input channels are forecast (target last)."""

    enc_in: int = 7
    c_out: int = 7
    seq_len: int = 96
    pred_len: int = 24
    moving_avg: int = 25

    def __post_init__(self):
        require_positive(self, ("enc_in", "c_out", "seq_len", "pred_len", "moving_avg"))
        require_targets_in_inputs(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "BaselineConfig":
        return cls(**d)


class RepeatLast(nn.Module):
    """Forecast every horizon step as the last observed value."""

    def __init__(self, config: BaselineConfig):
        super().__init__()
        self.config = config

    def forward(self, x: Tensor, x_mark: Tensor, future_mark: Tensor, origin: Tensor | None = None) -> Tensor:
        last = x[:, -1:, -self.config.c_out:]  # (B, 1, c_out)
        return last.expand(-1, future_mark.shape[1], -1)


class DLinear(nn.Module):
    """Series = trend (moving average, edge-padded) + seasonal remainder; one linear map L -> P for each, shared by
    all channels."""

    def __init__(self, config: BaselineConfig):
        super().__init__()
        self.config = config
        self.seasonal = nn.Linear(config.seq_len, config.pred_len)
        self.trend = nn.Linear(config.seq_len, config.pred_len)
        for layer in (self.seasonal, self.trend):
            nn.init.constant_(layer.weight, 1.0 / config.seq_len)

    def forward(self, x: Tensor, x_mark: Tensor, future_mark: Tensor, origin: Tensor | None = None) -> Tensor:
        k = self.config.moving_avg
        xt = x.transpose(1, 2)  # (B, C, L)
        padded = F.pad(xt, ((k - 1) // 2, k // 2), mode="replicate")
        trend = F.avg_pool1d(padded, kernel_size=k, stride=1)  # (B, C, L)
        out = self.seasonal(xt - trend) + self.trend(trend)  # (B, C, P)
        return out.transpose(1, 2)[..., -self.config.c_out:]  # (B, P, c_out)
