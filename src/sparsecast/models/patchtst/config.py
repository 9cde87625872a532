"""Configuration of the PatchTST-style baseline (defaults: PatchTST/42's ETTh1 script)."""

from dataclasses import asdict, dataclass

from ...attention import ATTENTION, kernel_settings
from ...checks import require_positive, require_targets_in_inputs
from ...nn import ACTIVATIONS
from ...nn.norm import NORMS


@dataclass(frozen=True)
class PatchTSTConfig:
    """Hyperparameters of a channel-independent patch Transformer with a flatten + linear head.

    Attributes:
        enc_in, c_out: input channels and forecast channels (the last ``c_out`` of the input).
        seq_len, pred_len: lookback and horizon.
        patch_len, patch_stride: patch length and the step between patch starts (16 and 8 in the paper).
        d_model, n_heads, e_layers, d_ff, dropout: the encoder; defaults are PatchTST's small ETTh1 setting.
        head_dropout: dropout before the flatten head.
        attn: encoder attention, any registered kernel; factor, stride, c its settings (as for Informer).
        norm: the normalization of our encoder layers, "layer" (LayerNorm) or "batch" (BatchNorm over the width, as
            PatchTST's code); with any attention kernel.
        tst_layers: the encoder layers of PatchTST's own code (``tst_layer.py``: BatchNorm whatever ``norm`` says,
            residual attention, the attention output dropped out twice) instead of our post-norm ``EncoderLayer``;
            dense attention only.
    """

    enc_in: int = 7
    c_out: int = 7
    seq_len: int = 336
    pred_len: int = 96
    patch_len: int = 16
    patch_stride: int = 8
    d_model: int = 16
    n_heads: int = 4
    e_layers: int = 3
    d_ff: int = 128
    dropout: float = 0.3
    head_dropout: float = 0.0
    attn: str = "full"
    factor: int = 5
    sampling: str = "shared"
    stride: int | None = None
    c: int = 1
    activation: str = "gelu"
    norm: str = "layer"
    tst_layers: bool = False

    def __post_init__(self):
        require_positive(self, ("enc_in", "c_out", "seq_len", "pred_len", "patch_len", "patch_stride", "d_model",
                                "n_heads", "e_layers", "d_ff", "factor", "c"))
        if self.patch_len > self.seq_len:
            raise ValueError(f"patch_len ({self.patch_len}) is longer than the lookback seq_len ({self.seq_len}); "
                             f"use a shorter --patch-len or a longer --seq-len")
        require_targets_in_inputs(self)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        for name in ("dropout", "head_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.attn not in ATTENTION:
            raise ValueError(f"attn must be one of {sorted(ATTENTION)}, got {self.attn!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.tst_layers and self.attn != "full":
            raise ValueError(f"tst_layers carries each layer's dense attention logits to the next: attn must be "
                             f"'full', got {self.attn!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")

    def attention_kwargs(self) -> dict:
        """The settings of this config that the kernel ``attn`` takes."""
        return kernel_settings(self.attn, factor=self.factor, sampling=self.sampling, stride=self.stride, c=self.c)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PatchTSTConfig":
        return cls(**d)
