"""The post-norm Transformer encoder layer shared by Informer and the patch models.

Notation: B batch, L length, E model width, F feed-forward width.
"""

from torch import Tensor, nn

from .attention_layer import AttentionLayer
from .dropout import Dropout
from .feed_forward import FeedForward
from .norm import build_norm


class EncoderLayer(nn.Module):
    """x = norm1(x + attn(x)); out = norm2(x + ff(x)) (post-norm, as in the paper). ``norm``: "layer" (LayerNorm, the
    default) or "batch" (BatchNorm over the width, as PatchTST's code)."""

    def __init__(self, attention: AttentionLayer, d_model: int, d_ff: int, dropout: float, activation: str,
                 norm: str = "layer"):
        super().__init__()
        self.attention = attention
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = build_norm(norm, d_model)
        self.norm2 = build_norm(norm, d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm1(x + self.dropout(self.attention(x, x, x)))
        return self.norm2(x + self.ff(x))  # (B, L, E)
