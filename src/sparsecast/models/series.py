"""How a forecasting model sees its channels: a seasonal profile taken out, instance normalization and channel
independence, for any model.

Notation: B batch, L seq_len, P pred_len, C input channels, C_out forecast channels (the last C_out of C), T time
features, W phases of the season.
"""

from dataclasses import asdict, dataclass, fields

import torch
from torch import Tensor, nn

from ..data.batch import ForecastBatch
from ..nn import RevIN


@dataclass(frozen=True)
class SeriesConfig:
    """Wrappers around a forecasting model, chosen per run (``--revin``, ``--channel-independent``).

    Attributes:
        revin: standardize every input window per channel and restore the forecast to its scale (RevIN).
        revin_affine: RevIN's learnable per-channel scale and shift.
        channel_independent: every channel is a univariate series through the same weights: the model is built
            for one channel and sees the B x C series of a batch as one batch of B * C.
        deseason: subtract each channel's seasonal profile (its mean over the training windows at each phase of the
            season, e.g. each hour of the day) from the input before anything else, and add the profile of the
            horizon's phases back to the forecast; reads each window's ``origin``.
        profile_len: the season's length in steps for ``deseason``; 0 until the data fixes it (24 for hourly
            data, or the data's ``season``).
    """

    revin: bool = False
    revin_affine: bool = False
    channel_independent: bool = False
    deseason: bool = False
    profile_len: int = 0

    def __post_init__(self):
        if self.revin_affine and not self.revin:
            raise ValueError("revin_affine needs revin=True")
        if self.profile_len < 0:
            raise ValueError(f"profile_len must be >= 0, got {self.profile_len}")

    @property
    def wraps(self) -> bool:
        return self.revin or self.channel_independent or self.deseason

    def to_dict(self) -> dict:
        return asdict(self)


SERIES_FIELDS = tuple(f.name for f in fields(SeriesConfig))
# A seasonal profile (deseason, LongPatch's offsets) is fit only where the training windows span this many seasons:
# with fewer (18 years of a weekly series) each phase rests on a few dozen values and the profile is mostly noise
# (chosen on the real univariate series of benchmarks/results/univariate: 10, 20 and 50 seasons gave LongPatch's
# offsets 0.692, 0.684 and 0.682 there).
MIN_SEASONS = 50


class SeriesModel(nn.Module):
    """A forecasting model wrapped by a seasonal profile, instance normalization and/or channel independence, in
    that order on the way in and the reverse on the way out.

    Args:
        model: the inner model, built with 1 channel in and out when ``config.channel_independent``.
        config: which wrappers apply.
        n_channels, c_out: the data's input channels C and forecast channels C_out.

    Shape:
        x: (B, L, C), x_mark: (B, L, T), future_mark: (B, P, T); returns (B, P, C_out).
    """

    def __init__(self, model: nn.Module, config: SeriesConfig, n_channels: int, c_out: int):
        super().__init__()
        self.inner = model
        self.series = config
        self.n_channels, self.c_out = n_channels, c_out
        self.revin = RevIN(n_channels, affine=config.revin_affine) if config.revin else None
        if config.deseason and config.profile_len < 1:
            raise ValueError("deseason needs the season's length (profile_len >= 1)")
        # (W, C): each channel's mean at each phase of the season, fit by init_from_data
        self.register_buffer("profile", torch.zeros(config.profile_len, n_channels) if config.deseason else None)
        if hasattr(model, "init_from_data") or config.deseason:  # only then does the trainer find one
            self.init_from_data = self._init_from_data
        # whether the last start that validated kept the profile (None: it did not choose); training again on all
        # windows keeps that choice
        self.start_choice: bool | None = None
        self.given_choice: bool | None = None

    def reuse_start_choice(self, choice: bool | None) -> None:
        """Make the next start keep or drop the profile as a validated start chose (its ``start_choice``) instead of
        choosing on validation windows (``TrainConfig.train_on_val``: training again on training and validation
        windows)."""
        self.given_choice = choice

    @property
    def config(self):
        """The inner model's config (what a run folder saves as ``model``)."""
        return self.inner.config

    def seen(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """A window and its truth as the inner model sees and must predict them (normalized, per channel), and the
        scale by which an error there counts in the loss (the window's std under RevIN: restoring multiplies it).

        Shape:
            x: (B, L, C), y: (B, P, C_out) -> (B', L, C'), (B', P, C_out'), scale (B', C_out'); under channel
            independence only the forecast channels' series, B' = B * C_out and C' = C_out' = 1.
        """
        B, L, C = x.shape
        scale = x.new_ones(B, self.c_out)
        if self.revin is not None:
            x, (mean, std) = self.revin.normalize(x)
            y = (y - mean[..., C - self.c_out:]) / std[..., C - self.c_out:]
            scale = std[:, 0, C - self.c_out:]  # (B, C_out)
            if self.revin.affine:
                y = y * self.revin.weight[C - self.c_out:] + self.revin.bias[C - self.c_out:]
                scale = scale / self.revin.weight[C - self.c_out:].abs()
        if self.series.channel_independent:
            x = x[..., C - self.c_out:].transpose(1, 2).reshape(B * self.c_out, L, 1)
            y = y.transpose(1, 2).reshape(B * self.c_out, -1, 1)
            scale = scale.reshape(B * self.c_out, 1)
        return x, y, scale

    @torch.no_grad()
    def _init_from_data(self, batches, val_batches=()) -> None:
        """Fit the seasonal profile on the training windows (with ``deseason``), then the inner model's
        ``init_from_data`` on the training (and validation) windows as it sees them, with their loss scales (each
        batch's ``scale``). Where that start reports a validation error (LongPatch's closed form), the profile is
        kept only if the start fits validation better with it than without."""
        if self.profile is not None:
            self._fit_profile(batches)
            if self.given_choice is False:  # again a start whose validation dropped the profile
                self.profile.zero_()
        if not hasattr(self.inner, "init_from_data"):
            return
        error = self._init_inner(batches, val_batches)
        if self.given_choice is not None or error is None or self.profile is None or not self.profile.any():
            return
        # The inner start's validation error decides whether the profile stays (as it decides LongPatch's offsets):
        # where the validation period's days differ from the training period's, taking the training profile out can
        # hurt (weather's start: validation 0.4164 with it, 0.4000 without).
        fitted = {k: v.clone() for k, v in self.state_dict().items()}
        inner_choice = getattr(self.inner, "start_choice", None)  # what the inner start chose with the profile
        self.profile.zero_()
        self.start_choice = self._init_inner(batches, val_batches) >= error  # the profile kept
        if self.start_choice:
            self.load_state_dict(fitted)
            if inner_choice is not None:
                self.inner.start_choice = inner_choice

    def _init_inner(self, batches, val_batches) -> float | None:
        return self.inner.init_from_data((self._seen_batch(b) for b in batches),
                                         (self._seen_batch(b) for b in val_batches))

    def _fit_profile(self, batches) -> None:
        """Each channel's mean over every input row of the windows at each phase (a row counts once per window
        that holds it, so all but the first and last lookback's rows weigh the same); zero where the windows span
        fewer than MIN_SEASONS seasons."""
        W, C = self.profile.shape
        sums = torch.zeros(W, C, dtype=torch.float64)
        counts = torch.zeros(W, dtype=torch.float64)
        windows = 0
        for batch in batches:
            windows += len(batch.x)
            phase = self._phases(batch.origin, -batch.x.shape[1], batch.x.shape[1]).reshape(-1)  # (B * L,)
            sums.index_add_(0, phase, batch.x.reshape(-1, C).double())
            counts.index_add_(0, phase, torch.ones(len(phase), dtype=torch.float64))
        if windows < MIN_SEASONS * W:
            self.profile.zero_()
            return
        self.profile.copy_(torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], 0.0))

    def _phases(self, origin: Tensor | None, start: int, length: int) -> Tensor:
        """(B, length) phases of the steps origin + start, ..., origin + start + length - 1."""
        if origin is None:
            raise ValueError("deseason needs each window's origin (its first forecast step's position on the time "
                             "grid); windows without timestamps cannot be deseasonalized")
        return (origin[:, None] + start + torch.arange(length, device=origin.device)) % self.profile.shape[0]

    def _remove_season(self, x: Tensor, origin: Tensor | None, y: Tensor | None = None):
        """x (B, L, C) less the profile at its rows' phases (and y (B, P, C_out) less the horizon's, if given)."""
        if self.profile is None:
            return x if y is None else (x, y)
        x = x - self.profile[self._phases(origin, -x.shape[1], x.shape[1])]  # (B, L, C)
        if y is None:
            return x
        return x, y - self.profile[self._phases(origin, 0, y.shape[1])][..., -self.c_out:]  # (B, P, C_out)

    def _seen_batch(self, batch: ForecastBatch) -> ForecastBatch:
        x, y, scale = self.seen(*self._remove_season(batch.x, batch.origin, batch.y))
        origin = batch.origin
        if origin is not None and self.series.channel_independent:  # one series per forecast channel
            origin = origin.repeat_interleave(self.c_out)
        return ForecastBatch(x=x, x_mark=batch.x_mark, future_mark=batch.future_mark, y=y, origin=origin, scale=scale)

    def forward(self, x: Tensor, x_mark: Tensor, future_mark: Tensor, origin: Tensor | None = None) -> Tensor:
        B, L, C = x.shape
        x = self._remove_season(x, origin)
        if self.revin is not None:
            x, stats = self.revin.normalize(x)
        if self.series.channel_independent:
            flat = x.transpose(1, 2).reshape(B * C, L, 1)  # (B * C, L, 1)
            out = _first(self.inner(flat, x_mark.repeat_interleave(C, 0), future_mark.repeat_interleave(C, 0),
                                    None if origin is None else origin.repeat_interleave(C)))
            out = out.reshape(B, C, -1).transpose(1, 2)[..., C - self.c_out:]  # (B, P, C_out)
        else:
            out = _first(self.inner(x, x_mark, future_mark, origin))  # (B, P, C_out)
        if self.revin is not None:
            out = self.revin.restore(out, stats, slice(C - self.c_out, C))
        if self.profile is not None:
            out = out + self.profile[self._phases(origin, 0, out.shape[1])][..., C - self.c_out:]  # (B, P, C_out)
        return out


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def wrap(model: nn.Module, config: SeriesConfig, n_channels: int, c_out: int) -> nn.Module:
    """``model`` itself when no wrapper is chosen, else its SeriesModel."""
    return SeriesModel(model, config, n_channels, c_out) if config.wraps else model


def unwrap(model: nn.Module) -> nn.Module:
    return model.inner if isinstance(model, SeriesModel) else model
