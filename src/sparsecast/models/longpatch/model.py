"""LongPatch: a channel-independent patch Transformer over a long lookback, with a linear skip from the lookback
to the horizon. Instance normalization (RevIN) comes from the run's series settings, on by default.

Notation: B batch, L seq_len, P pred_len, C_out forecast channels, K patches, E model width.
"""

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from ..patchtst import PatchTST
from .config import LongPatchConfig


class LongPatch(PatchTST):
    """forecast = linear(lookback) + head(encoder(patches)), per channel, through shared weights.

    Before training, ``init_from_data`` fits the linear skip by least squares on the training windows (the
    trainer calls it); the head starts at zero, so the model starts as that linear forecast and early stopping
    keeps it unless the attention improves on it.

    Shape:
        x: (B, L, C), x_mark and future_mark: ignored; returns (B, P, C_out).
    """

    def __init__(self, config: LongPatchConfig):
        super().__init__(config)
        self.linear = nn.Linear(config.seq_len, config.pred_len) if config.linear_skip else None
        if self.linear is not None:
            last = self.head[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    @torch.no_grad()
    def init_from_data(self, pairs: Iterable[tuple[Tensor, Tensor]]) -> None:
        """Set the linear skip to the least-squares (ridge) map from lookback to horizon over the training windows.

        Each series row is weighted by the scale its errors have in the training loss (under RevIN the window's
        std, by which the forecast is restored), so the fit minimizes the same squared error as training rather
        than one dominated by nearly constant windows, whose normalized targets are huge. The sums Z^T Z and Z^T Y
        are accumulated batch by batch in float64, so memory stays O(L^2) whatever the number of windows; the
        ridge term is ``config.ridge`` times the total squared weight (the number of rows when unweighted).

        Args:
            pairs: (x (B, L, C), y (B, P, C_out)) as the model sees them, optionally with a third entry, the
                (B, C_out) loss scale of each series (the series wrapper's ``seen``).
        """
        if self.linear is None:
            return
        L, P = self.config.seq_len, self.config.pred_len
        gram = torch.zeros(L + 1, L + 1, dtype=torch.float64)
        cross = torch.zeros(L + 1, P, dtype=torch.float64)
        weight = 0.0
        for x, y, *scale in pairs:
            z = self.series(x).double()  # (B * C_out, L)
            z = torch.cat([z, z.new_ones(len(z), 1)], dim=1)  # (B * C_out, L + 1): the bias as a column
            t = y.transpose(1, 2).reshape(len(z), P).double()  # (B * C_out, P)
            w = scale[0].reshape(len(z), 1).double() if scale else z.new_ones(len(z), 1)  # (B * C_out, 1)
            z, t = z * w, t * w
            gram += z.T @ z
            cross += z.T @ t
            weight += float(w.square().sum())
        if not weight:
            return
        penalty = self.config.ridge * weight * torch.eye(L + 1, dtype=torch.float64)
        penalty[L, L] = 0.0  # the bias is not shrunk
        w = torch.linalg.solve(gram + penalty, cross)  # (L + 1, P)
        self.linear.weight.copy_(w[:L].T)
        self.linear.bias.copy_(w[L])

    def encode(self, z: Tensor) -> Tensor:
        out = super().encode(z)  # (B * C_out, P)
        return out if self.linear is None else out + self.linear(z)
