"""The post-norm Transformer encoder layer shared by Informer and the patch models.

Notation: B batch, L length, E model width, F feed-forward width.
"""

import torch.nn.functional as F
from torch import Tensor, nn

from .attention_layer import AttentionLayer
from .dropout import Dropout

ACTIVATIONS = ("gelu", "relu")  # the feed-forward's


class FeedForward(nn.Module):
    """Position-wise E -> F -> E (the paper's Conv1d of kernel 1, written as Linear)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float, activation: str):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.dropout = Dropout(dropout)
        self.activation = F.gelu if activation == "gelu" else F.relu

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.fc2(self.dropout(self.activation(self.fc1(x)))))


class EncoderLayer(nn.Module):
    """x = norm1(x + attn(x)); out = norm2(x + ff(x)) (post-norm, as in the paper)."""

    def __init__(self, attention: AttentionLayer, d_model: int, d_ff: int, dropout: float, activation: str):
        super().__init__()
        self.attention = attention
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm1(x + self.dropout(self.attention(x, x, x)))
        return self.norm2(x + self.ff(x))  # (B, L, E)
