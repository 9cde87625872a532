"""Instance normalization of each input window (RevIN, Kim et al., ICLR 2022).

Notation: B batch, L window length, P horizon, C channels.

Every window is standardized per channel with its own mean and std before the model sees it, and the model's
output is mapped back with the same statistics, so a level or scale the training split never had (a trend, a
drift between splits) reaches the model as a series it knows. The optional affine (RevIN's learnable per-channel
gamma and beta) is applied after normalizing and undone before restoring.
"""

import torch
from torch import Tensor, nn


class RevIN(nn.Module):
    """Remove each window's per-channel mean and std at the input; restore them at the output.

    Args:
        n_channels: channels C of the input windows.
        affine: learn a per-channel scale and shift (RevIN's gamma, beta), applied after normalizing.
        eps: added to the variance so a constant window does not divide by zero.

    Shape:
        ``normalize(x)``: x (B, L, C) -> (normalized (B, L, C), stats); ``restore(y, stats, channels)``: y
        (B, P, len(channels)) -> (B, P, len(channels)), where ``channels`` picks which input channels y forecasts.
    """

    def __init__(self, n_channels: int, affine: bool = False, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(n_channels))
            self.bias = nn.Parameter(torch.zeros(n_channels))

    def normalize(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        mean = x.mean(dim=1, keepdim=True).detach()  # (B, 1, C)
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps).detach()  # (B, 1, C)
        z = (x - mean) / std
        if self.affine:
            z = z * self.weight + self.bias
        return z, (mean, std)

    def restore(self, y: Tensor, stats: tuple[Tensor, Tensor], channels: slice = slice(None)) -> Tensor:
        mean, std = stats
        if self.affine:
            y = (y - self.bias[channels]) / (self.weight[channels] + self.eps * self.eps)
        return y * std[..., channels] + mean[..., channels]
