"""A weighted mean of fitted forecasters, each reading its own lookback: what model="auto" builds when it combines.

The members are trained (or, for the statistical ones, defined) on their own before they are combined, so the
ensemble has nothing to train: its parameters are the members' and stay frozen. Each member reads the last
``seq_len`` steps of its own config from the ensemble's lookback, the longest of theirs.

Notation: B batch, L the ensemble's seq_len (the longest member's), P pred_len, C input channels, C_out forecast
channels, T time features.
"""

from dataclasses import dataclass, field

from torch import Tensor, nn

from .series import unwrap


@dataclass(frozen=True)
class EnsembleConfig:
    """The members and their weights.

    Attributes:
        members: one entry per member: ``model_name``, ``model`` (its config as a dict), ``series`` (its
            SeriesConfig as a dict) and ``weight`` (the weights sum to 1).
    """

    members: tuple = field(default_factory=tuple)
    enc_in: int = 1
    c_out: int = 1
    seq_len: int = 96
    pred_len: int = 24

    def __post_init__(self):
        object.__setattr__(self, "members", tuple(dict(m) for m in self.members))
        if not self.members:
            raise ValueError("an ensemble needs at least one member")
        total = sum(m["weight"] for m in self.members)
        if any(m["weight"] < 0 for m in self.members) or abs(total - 1) > 1e-6:
            raise ValueError(f"member weights must be >= 0 and sum to 1, got {[m['weight'] for m in self.members]}")
        longest = max(m["model"]["seq_len"] for m in self.members)
        if longest > self.seq_len:
            raise ValueError(f"a member reads {longest} steps, more than the ensemble's seq_len {self.seq_len}")

    def to_dict(self) -> dict:
        return {"members": [dict(m) for m in self.members], "enc_in": self.enc_in, "c_out": self.c_out,
                "seq_len": self.seq_len, "pred_len": self.pred_len}

    @classmethod
    def from_dict(cls, d: dict) -> "EnsembleConfig":
        return cls(**{**d, "members": tuple(d.get("members", ()))})


class Ensemble(nn.Module):
    """sum_i w_i * member_i(the last L_i steps of x).

    Shape:
        x: (B, L, C), x_mark: (B, L, T), future_mark: (B, P, T); returns (B, P, C_out).
    """

    def __init__(self, config: EnsembleConfig, members: list[nn.Module] | None = None):
        super().__init__()
        self.config = config
        if members is None:  # from a saved config: untrained members of the same shape
            members = [_build(m, config.enc_in, config.c_out) for m in config.members]
        self.members = nn.ModuleList(members)
        self.weights = [m["weight"] for m in config.members]
        self.lookbacks = [m["model"]["seq_len"] for m in config.members]
        self.requires_grad_(False)  # the members were fit on their own

    @property
    def refits_per_window(self) -> bool:
        """Whether a member fits a model per forecast (a statsforecast one): then windows are scored spaced out."""
        return any(getattr(unwrap(m), "refits_per_window", False) for m in self.members)

    def forward(self, x: Tensor, x_mark: Tensor, future_mark: Tensor, origin: Tensor | None = None) -> Tensor:
        out = 0
        for w, L, member in zip(self.weights, self.lookbacks, self.members):
            pred = member(x[:, -L:], x_mark[:, -L:], future_mark, origin)
            out = out + w * (pred[0] if isinstance(pred, tuple) else pred)  # (B, P, C_out)
        return out


def _build(member: dict, n_channels: int, c_out: int) -> nn.Module:
    from .registry import build_saved  # the registry names this module's class

    return build_saved(member["model_name"], member["model"], member["series"], n_channels, c_out)
