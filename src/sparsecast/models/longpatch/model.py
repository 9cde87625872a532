"""LongPatch: a channel-independent patch Transformer over a long lookback, with a linear skip from the lookback
to the horizon. Instance normalization (RevIN) comes from the run's series settings, on by default.

Notation: B batch, L seq_len, P pred_len, C_out forecast channels, K patches, E model width.
"""

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from ..patchtst import PatchTST
from .config import LongPatchConfig

RIDGE_STEPS = 6  # ridge multiples tried on validation: config.ridge x 1, 10, ..., 10^5


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
    def init_from_data(self, pairs: Iterable[tuple[Tensor, ...]], val_pairs: Iterable[tuple[Tensor, ...]] = ()
                       ) -> None:
        """Set the linear skip to the least-squares (ridge) map from lookback to horizon over the training windows.

        Each series row is weighted by the scale its errors have in the training loss (under RevIN the window's
        std, by which the forecast is restored), so the fit minimizes the same squared error as training rather
        than one dominated by nearly constant windows, whose normalized targets are huge. The sums Z^T Z, Z^T Y and
        Y^T Y are accumulated batch by batch in float64, so memory stays O(L^2) whatever the number of windows; the
        ridge term is a multiple of the total squared weight (the number of rows when unweighted). With validation
        windows, the multiple is chosen among ``config.ridge`` x 10^k, k = 0..RIDGE_STEPS - 1, by the validation
        error, computed in closed form from the validation windows' own sums: a long series keeps the small ridge,
        a short one (few training windows for a long lookback) gets the shrinkage it needs.

        Args:
            pairs, val_pairs: (x (B, L, C), y (B, P, C_out)) as the model sees them, optionally with a third entry,
                the (B, C_out) loss scale of each series (the series wrapper's ``seen``).
        """
        if self.linear is None:
            return
        L = self.config.seq_len
        gram, cross, _, weight = self._sums(pairs)
        if not weight:
            return
        g, c, yy, n = self._sums(val_pairs)
        shrink = torch.eye(L + 1, dtype=torch.float64)
        shrink[L, L] = 0.0  # the bias is not shrunk

        def solve(ridge: float) -> Tensor:  # (L + 1, P)
            return torch.linalg.solve(gram + ridge * weight * shrink, cross)

        def val_error(w: Tensor) -> float:  # validation squared error per row, from the validation sums
            return float(yy - 2 * (w * c).sum() + (w * (g @ w)).sum()) / n

        fits = [solve(self.config.ridge * 10 ** k) for k in range(RIDGE_STEPS if n else 1)]
        best = min(fits, key=val_error) if n else fits[0]
        self.linear.weight.copy_(best[:L].T)
        self.linear.bias.copy_(best[L])

    def _sums(self, pairs) -> tuple[Tensor, Tensor, float, float]:
        """Z^T Z (L + 1, L + 1), Z^T Y (L + 1, P), Y^T Y and the total squared weight over weighted rows."""
        L, P = self.config.seq_len, self.config.pred_len
        gram = torch.zeros(L + 1, L + 1, dtype=torch.float64)
        cross = torch.zeros(L + 1, P, dtype=torch.float64)
        yty, weight = 0.0, 0.0
        for x, y, *scale in pairs:
            z = self.series(x).double()  # (B * C_out, L)
            z = torch.cat([z, z.new_ones(len(z), 1)], dim=1)  # (B * C_out, L + 1): the bias as a column
            t = y.transpose(1, 2).reshape(len(z), P).double()  # (B * C_out, P)
            w = scale[0].reshape(len(z), 1).double() if scale else z.new_ones(len(z), 1)  # (B * C_out, 1)
            z, t = z * w, t * w
            gram += z.T @ z
            cross += z.T @ t
            yty += float(t.square().sum())
            weight += float(w.square().sum())
        return gram, cross, yty, weight

    def encode(self, z: Tensor) -> Tensor:
        out = super().encode(z)  # (B * C_out, P)
        return out if self.linear is None else out + self.linear(z)
