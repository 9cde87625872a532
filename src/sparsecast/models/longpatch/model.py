"""LongPatch: a channel-independent patch Transformer over a long lookback, with a linear skip from the lookback
to the horizon and seasonal offsets. Instance normalization (RevIN) comes from the run's series settings, on by
default.

Notation: B batch, L seq_len, P pred_len, C_out forecast channels, K patches, E model width, W phases of the season.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from ...data.batch import ForecastBatch
from ..patchtst import PatchTST
from ..series import MIN_SEASONS  # offsets are tried only where the training windows span this many seasons
from .config import LongPatchConfig

RIDGE_STEPS = 6  # ridge multiples tried on validation: config.ridge x 1, 10, ..., 10^5
# Penalties tried for the seasonal offsets on validation, as multiples of one offset's share of the rows' weight
# (1 halves an offset seen by an average share); None leaves the offsets out. Without validation: NO_VAL_OFFSET.
OFFSET_RIDGES = (0.01, 0.1, 1.0, 10.0, None)
NO_VAL_OFFSET = 0.1


@dataclass
class _Sums:
    """Weighted least-squares sums per group of series rows (one group: the shared skip; one per channel: the
    channels' own skips), over rows z = [lookback, 1, one-hot(offset)] and targets t."""

    gram: Tensor  # (G, D, D), D = L + 1 + O offset columns per group
    cross: Tensor  # (G, D, P)
    yty: Tensor  # (G,)
    weight: Tensor  # (G,) total squared row weight
    windows: int


class ChannelLinear(nn.Module):
    """One linear map per channel of (B * C, L) rows ordered (batch, channel): row r uses channel r mod C's map.

    Shape:
        z: (B * C, L); returns (B * C, P).
    """

    def __init__(self, channels: int, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels, out_features, in_features))  # (C, P, L)
        self.bias = nn.Parameter(torch.zeros(channels, out_features))  # (C, P)

    def forward(self, z: Tensor) -> Tensor:
        C, P, L = self.weight.shape
        out = torch.einsum("bcl,cpl->bcp", z.view(-1, C, L), self.weight) + self.bias  # (B, C, P)
        return out.reshape(-1, P)


class LongPatch(PatchTST):
    """forecast = linear(lookback) + offsets[channel, phase] + head(encoder(patches)), per channel, through shared
    weights (the offsets are per channel).

    Before training, ``init_from_data`` fits the linear skip and the offsets by least squares on the training
    windows (the trainer calls it); the head starts at zero, so the model starts as that forecast and early stopping
    keeps it unless the attention improves on it.

    Shape:
        x: (B, L, C), x_mark and future_mark: ignored, origin: (B,) grid positions of the first horizon steps (needed
        with seasonal offsets); returns (B, P, C_out).
    """

    def __init__(self, config: LongPatchConfig):
        super().__init__(config)
        self.linear = None
        if config.linear_skip:
            self.linear = self._skip(bool(config.channel_skip))
            last = self.head[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        W = config.offset_phases
        self.offsets = nn.Parameter(torch.zeros(config.c_out, W, config.pred_len)) if W else None  # (C_out, W, P)
        # channel_skip=None: every start chooses (the config then records the last choice), and saved weights
        # bring their kind back
        self.choose_skip = config.linear_skip and config.channel_skip is None
        # what the last start with validation windows chose (skip kind; per group ridge, offsets' penalty, target):
        # a later start given it (``reuse_start_choice``) solves the same choice on more windows
        self.start_choice: tuple[bool, list] | None = None
        self.given_choice: tuple[bool, list] | None = None  # set by reuse_start_choice
        if self.choose_skip:
            self.register_load_state_dict_pre_hook(self._take_saved_skip)

    def _skip(self, per_channel: bool) -> nn.Module:
        c = self.config
        return ChannelLinear(c.c_out, c.seq_len, c.pred_len) if per_channel else nn.Linear(c.seq_len, c.pred_len)

    def _use_skip(self, per_channel: bool) -> None:
        """Make the skip one map per channel or one shared map (a new, untrained module where the kind changes);
        the config records the kind, so a run folder saves the model it holds."""
        if isinstance(self.linear, ChannelLinear) != per_channel:
            self.linear = self._skip(per_channel).to(self.linear.weight)  # its device and dtype
        self.config = replace(self.config, channel_skip=per_channel)

    def _take_saved_skip(self, module, state_dict, prefix, *args) -> None:
        weight, bias = state_dict.get(prefix + "linear.weight"), state_dict.get(prefix + "linear.bias")
        if weight is not None:
            self._use_skip(weight.dim() == 3)  # (C, P, L) per channel, (P, L) shared
        elif bias is not None:
            self._use_skip(bias.dim() == 2)  # (C, P) per channel, (P,) shared

    def forward(self, x: Tensor, x_mark: Tensor | None = None, future_mark: Tensor | None = None,
                origin: Tensor | None = None) -> Tensor:
        out = super().forward(x)  # (B, P, C_out)
        if self.offsets is None:
            return out
        phase = self._phase(origin)  # (B,)
        return out + self.offsets[:, phase].permute(1, 2, 0)  # (C_out, B, P) -> (B, P, C_out)

    def _phase(self, origin: Tensor | None) -> Tensor:
        if origin is None:
            raise ValueError("LongPatch with season_offsets needs each window's origin (its first forecast step's "
                             "position on the time grid); build the model with season_offsets=False for data "
                             "without timestamps")
        return origin % self.config.offset_phases

    def encode(self, z: Tensor) -> Tensor:
        out = super().encode(z)  # (B * C_out, P)
        return out if self.linear is None else out + self.linear(z)

    @torch.no_grad()
    def init_from_data(self, batches: Iterable[ForecastBatch], val_batches: Iterable[ForecastBatch] = ()
                       ) -> float | None:
        """Set the linear skip and the seasonal offsets to the least-squares (ridge) fit over the training windows.

        Each series row is weighted by the scale its errors have in the training loss (the batch's ``scale``: under
        RevIN the window's std, by which the forecast is restored), so the fit minimizes the same squared error as
        training rather than one dominated by nearly constant windows, whose normalized targets are huge. The sums
        Z^T Z, Z^T Y and Y^T Y are accumulated batch by batch in float64, so memory stays O(D^2) whatever the number
        of windows (D = L + 1 + C_out x W); the ridge term is a multiple of the total squared weight. With
        validation windows the linear ridge (``config.ridge`` x 10^k, k = 0..RIDGE_STEPS - 1) and the offsets'
        penalty (OFFSET_RIDGES, or no offsets) are chosen together by the validation error, computed in closed form
        from the validation windows' own sums: a long series keeps the small ridge, a short one gets the shrinkage
        it needs, and offsets that do not help on validation are left at zero.

        With ``channel_skip=None`` both kinds of skip are fit, one shared by the channels and one per channel (each
        with its own ridge and offsets' penalty), from the same per-channel sums, and the validation error chooses
        (the shared one without validation windows or with one channel); the config then records the choice.

        Args:
            batches, val_batches: windows as the model sees them (``x`` (B, L, C), ``y`` (B, P, C_out), ``origin``
                where there are offsets, ``scale`` (B, C_out) where a wrapper set it).

        Returns:
            the fit's validation MSE in the training loss's units (each error times its row's weight), or None
            without validation windows or a skip.
        """
        if self.linear is None:
            return None
        given = self.given_choice
        kind = None if self.choose_skip else self.config.channel_skip  # None: both, the validation error chooses
        if given is not None:
            kind = given[0]
        per_channel = kind or (kind is None and self.config.c_out > 1)  # sums per channel
        train = self._sums(batches, per_channel)
        if not train.weight.sum():
            return None
        val = self._sums(val_batches, per_channel)
        if given is not None:  # the validated choice, solved on these windows
            fits = {kind: self._fit(train, val, given[1])}
        else:
            fits = {}  # per channel (True) or shared (False): ((G, D, P) fit, validation error, choices)
            if per_channel:
                fits[True] = self._fit(train, val)
            if kind is not True:
                fits[False] = self._fit(*(self._shared(s) for s in (train, val))) if per_channel else \
                    self._fit(train, val)
        chosen = min(fits, key=lambda k: (fits[k][1] if val.windows else 0.0, k))  # ties and no validation: shared
        fit, error, choices = fits[chosen]
        if val.windows:
            self.start_choice = (bool(chosen), choices)
        self._use_skip(bool(chosen))
        L = self.config.seq_len
        # (G, P, L) and (G, P): ChannelLinear's shapes, or nn.Linear's (P, L) and (P,) for the one shared group
        self.linear.weight.copy_(fit[:, :L].transpose(1, 2).reshape(self.linear.weight.shape))
        self.linear.bias.copy_(fit[:, L].reshape(self.linear.bias.shape))
        if self.offsets is not None:
            self.offsets.copy_(fit[:, L + 1:].reshape(self.offsets.shape))  # (G, O, P) -> (C_out, W, P)
        if not val.windows:
            return None
        return error / (val.windows * self.config.c_out * self.config.pred_len)  # per value: the loss's MSE

    def reuse_start_choice(self, choice: tuple[bool, list] | None) -> None:
        """Make the next ``init_from_data`` solve ``choice`` (a validated start's ``start_choice``: skip kind, and
        per group the ridge, offsets' penalty and target) on the windows it is given, instead of choosing on
        validation windows: training again on the training and validation windows together
        (``TrainConfig.train_on_val``)."""
        self.given_choice = choice

    def _fit(self, train: "_Sums", val: "_Sums", choices: list | None = None) -> tuple[Tensor, float, list]:
        """Each group's ridge fit, its ridge and offsets' penalty chosen by the validation error (the smallest
        ridge, with NO_VAL_OFFSET, without validation windows), or given by ``choices``; the (G, D, P) fit, its
        summed validation error, and per group the choice: (ridge, offsets' penalty, towards the last value), or None
        for repeating the last value."""
        L, P = self.config.seq_len, self.config.pred_len
        O = train.gram.shape[-1] - L - 1  # offset columns per group

        def solve(g: int, ridge: float, offset_ridge: float | None, last: bool) -> Tensor:  # (D, P)
            D = L + 1 + (O if offset_ridge is not None else 0)
            penalty = torch.zeros(D, dtype=torch.float64)
            penalty[:L] = ridge * train.weight[g]  # the bias is not shrunk
            penalty[L + 1:] = (offset_ridge or 0.0) * train.weight[g] / max(O, 1)
            rhs = train.cross[g, :D].clone()
            if last:  # shrink towards repeating the last value (weight 1 on the last step) instead of towards zero
                rhs[L - 1] += penalty[L - 1]
            w = torch.linalg.solve(train.gram[g, :D, :D] + torch.diag(penalty), rhs)
            return torch.cat([w, w.new_zeros(L + 1 + O - D, P)])

        def persistence() -> Tensor:  # (D, P): the last value, the limit of an infinite ridge towards it
            w = torch.zeros(L + 1 + O, P, dtype=torch.float64)
            w[L - 1] = 1.0
            return w

        def val_error(g: int, w: Tensor) -> float:  # weighted validation squared error, from the validation sums
            return float(val.yty[g] - 2 * (w * val.cross[g]).sum() + (w * (val.gram[g] @ w)).sum())

        ridges = [self.config.ridge * 10 ** k for k in range(RIDGE_STEPS)]
        phases = self.config.offset_phases
        offset_ridges = OFFSET_RIDGES if O and train.windows >= MIN_SEASONS * phases else (None,)
        target = self.config.ridge_target
        lasts = {"zero": (False,), "last": (True,), "auto": (False, True)}[target]
        def fit(g: int, choice: tuple | None) -> Tensor:  # (D, P)
            return persistence() if choice is None else solve(g, *choice)

        best, chosen = [], []  # (D, P) per group, and its choice
        for g in range(len(train.gram)):
            if choices is not None:
                choice = choices[g]
            elif val.windows:
                candidates = [(r, o, last) for last in lasts for r in ridges for o in offset_ridges]
                candidates += [None] if target != "zero" else []
                # one (D, P) fit at a time: it can be large
                choice = min(candidates, key=lambda c: val_error(g, fit(g, c)))
            else:
                choice = (ridges[0], NO_VAL_OFFSET if offset_ridges[0] is not None else None, target == "last")
            best.append(fit(g, choice))
            chosen.append(choice)
        error = sum(val_error(g, w) for g, w in enumerate(best)) if val.windows else float("nan")
        return torch.stack(best), error, chosen

    def _shared(self, sums: "_Sums") -> "_Sums":
        """The shared skip's sums (one group; offset columns per channel and phase) from the per-channel sums."""
        L, (C, D, P) = self.config.seq_len, sums.cross.shape
        W = D - L - 1
        gram = torch.zeros(1, L + 1 + C * W, L + 1 + C * W, dtype=torch.float64)
        cross = torch.zeros(1, L + 1 + C * W, P, dtype=torch.float64)
        gram[0, :L + 1, :L + 1] = sums.gram[:, :L + 1, :L + 1].sum(0)
        cross[0, :L + 1] = sums.cross[:, :L + 1].sum(0)
        if W:  # channel c's phase w is column L + 1 + c * W + w; rows of one channel and phase share no other
            gram[0, L + 1:, :L + 1] = sums.gram[:, L + 1:, :L + 1].reshape(C * W, L + 1)
            gram[0, :L + 1, L + 1:] = gram[0, L + 1:, :L + 1].T
            gram[0, L + 1:, L + 1:] = torch.diag(sums.gram[:, L + 1:, L + 1:].diagonal(dim1=1, dim2=2).reshape(-1))
            cross[0, L + 1:] = sums.cross[:, L + 1:].reshape(C * W, P)
        return _Sums(gram, cross, sums.yty.sum(0, keepdim=True), sums.weight.sum(0, keepdim=True), sums.windows)

    def _sums(self, batches: Iterable[ForecastBatch], per_channel: bool) -> _Sums:
        """The weighted sums over every row (window, forecast channel) of ``batches``, per group: one group of
        every row with C_out x W offset columns (channel, phase), or one group per channel with W (phase)."""
        L, P, W = self.config.seq_len, self.config.pred_len, self.config.offset_phases
        C = self.config.c_out
        G, O = (C, W) if per_channel else (1, C * W)
        D = L + 1 + O
        gram = torch.zeros(G, D, D, dtype=torch.float64)
        cross = torch.zeros(G, D, P, dtype=torch.float64)
        yty = torch.zeros(G, dtype=torch.float64)
        weight = torch.zeros(G, dtype=torch.float64)
        windows = 0
        for batch in batches:
            B = len(batch.x)
            windows += B
            z = self.series(batch.x).double()  # (B * C_out, L)
            z = torch.cat([z, z.new_ones(len(z), 1)], dim=1)  # (B * C_out, L + 1): the bias as a column
            t = batch.y.transpose(1, 2).reshape(len(z), P).double()  # (B * C_out, P)
            w = batch.scale.reshape(len(z), 1).double() if batch.scale is not None else z.new_ones(len(z), 1)
            z, t = z * w, t * w
            zg, tg, wg = (x.view(-1, G, x.shape[-1]) for x in (z, t, w))  # (R, G, .): row r of every group
            gram[:, :L + 1, :L + 1] += torch.einsum("rgi,rgj->gij", zg, zg)
            cross[:, :L + 1] += torch.einsum("rgi,rgp->gip", zg, tg)
            if O:  # one-hot columns of each row's offset, times its weight: sums by offset column
                phase = self._phase(batch.origin)  # (B,)
                column = (phase if per_channel else
                          torch.arange(C).repeat(B) * W + phase.repeat_interleave(C))  # (R,)
                block = torch.zeros(G, O, L + 1, dtype=torch.float64)
                gram[:, L + 1:, :L + 1] += block.index_add_(1, column, (zg * wg).transpose(0, 1))
                counts = torch.zeros(G, O, dtype=torch.float64).index_add_(1, column, wg[..., 0].T ** 2)  # (G, O)
                gram[:, L + 1:, L + 1:] += torch.diag_embed(counts)
                cross[:, L + 1:] += torch.zeros(G, O, P, dtype=torch.float64).index_add_(1, column,
                                                                                         (tg * wg).transpose(0, 1))
            yty += tg.square().sum(dim=(0, 2))
            weight += wg.square().sum(dim=(0, 2))
        gram[:, :L + 1, L + 1:] = gram[:, L + 1:, :L + 1].transpose(1, 2)
        return _Sums(gram, cross, yty, weight, windows)
