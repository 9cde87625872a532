"""Configuration of LongPatch, our forecaster: a long-lookback patch Transformer over sparse attention."""

from dataclasses import dataclass

from ...timefeatures import season_length
from ..patchtst import PatchTSTConfig

RIDGE_TARGETS = ("zero", "last", "auto")


@dataclass(frozen=True)
class LongPatchConfig(PatchTSTConfig):
    """PatchTST's settings plus a linear skip and seasonal offsets, with sparse attention over many patches by default.

    Attributes:
        linear_skip: add a linear map of the whole (normalized) lookback to the horizon, shared by all channels,
            to the Transformer's head; the head starts at zero, so training starts from that linear forecast and
            the attention learns what it misses. The skip starts at the least-squares fit of the training windows
            (``LongPatch.init_from_data``), with a ridge penalty of ``ridge`` x 10^k times the number of series,
            k = 0..5 chosen by the validation error (k = 0 when no validation windows are given).
        ridge_target: what the ridge shrinks the skip towards: "zero" (under RevIN, towards the window's mean),
            "last" (towards repeating the last value, a random walk's best forecast; the plain last value is then
            a candidate too) or "auto" (both, and the last value, chosen by the validation error; without validation
            windows "auto" shrinks towards zero).
        channel_skip: one linear skip per forecast channel (True; like DLinear's ``individual``) or one shared by
            all (False); None, the default, fits both at the start and keeps the one with the lower validation error
            (then records the choice here). Each channel's skip is fit in closed form on its own channel's windows,
            with its own ridge and offsets' penalty chosen on that channel's validation windows. Channels as unlike
            as air pressure and sunshine want different maps, and the shared one is a compromise; with few or alike
            channels the shared one, fit on more rows, wins.
        season_offsets: add, per forecast channel, a learned horizon profile for each phase of the season in which
            the forecast starts (the hour of the day of its first step, for hourly data): the average shape that a
            day, a week or a year gives the horizon, which a lookback shorter than many seasons cannot see. Fit
            with the skip in closed form, with its own penalty chosen on validation (or left out when validation
            prefers that). Needs each window's position on the time grid (the batches' ``origin``).
        freq, season: the data's frequency and the season's length in steps; 0 takes it from ``freq`` (24 for
            hourly data, 96 for 15 minutes, 7 for daily, 12 for monthly).
        attn: "probsparse" by default: the top-u patches attend to all, the rest take the mean, so the cost grows
            as K log K in the number of patches K and lookbacks of thousands of steps stay cheap.
    """

    seq_len: int = 720
    attn: str = "probsparse"
    linear_skip: bool = True
    channel_skip: bool | None = None
    ridge: float = 1e-4
    ridge_target: str = "zero"
    season_offsets: bool = True
    freq: str = "h"
    season: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {self.ridge}")
        if self.ridge_target not in RIDGE_TARGETS:
            raise ValueError(f"ridge_target must be one of {RIDGE_TARGETS}, got {self.ridge_target!r}")
        if self.season < 0:
            raise ValueError(f"season must be >= 0, got {self.season}")
        if self.channel_skip and not self.linear_skip:
            raise ValueError("channel_skip needs linear_skip=True")

    @property
    def season_length(self) -> int:
        return season_length(self.freq, self.season)

    @property
    def offset_phases(self) -> int:
        """How many phases the seasonal offsets have (0: none)."""
        return self.season_length if self.season_offsets and self.season_length > 1 else 0

    @classmethod
    def from_dict(cls, d: dict) -> "LongPatchConfig":
        # runs saved before the offsets existed have none, and before the choice of skip a shared one
        return cls(**{"season_offsets": False, "channel_skip": False, **d})
