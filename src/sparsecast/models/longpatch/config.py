"""Configuration of LongPatch, our forecaster: a long-lookback patch Transformer over sparse attention."""

from dataclasses import dataclass

from ..patchtst import PatchTSTConfig


@dataclass(frozen=True)
class LongPatchConfig(PatchTSTConfig):
    """PatchTST's settings plus a linear skip, with sparse attention over many patches by default.

    Attributes:
        linear_skip: add a linear map of the whole (normalized) lookback to the horizon, shared by all channels,
            to the Transformer's head; the head starts at zero, so training starts from that linear forecast and
            the attention learns what it misses. The skip starts at the least-squares fit of the training windows
            (``LongPatch.init_from_data``), with a ridge penalty of ``ridge`` x 10^k times the number of series,
            k = 0..5 chosen by the validation error (k = 0 when no validation windows are given).
        attn: "probsparse" by default: the top-u patches attend to all, the rest take the mean, so the cost grows
            as K log K in the number of patches K and lookbacks of thousands of steps stay cheap.
    """

    seq_len: int = 720
    attn: str = "probsparse"
    linear_skip: bool = True
    ridge: float = 1e-4

    def __post_init__(self):
        super().__post_init__()
        if self.ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {self.ridge}")
