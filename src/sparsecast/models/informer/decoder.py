"""Informer decoder: masked self-attention, full cross-attention to the encoder, feed-forward.

Notation: B batch, L decoder length, S encoder length, E model width.
"""

from torch import Tensor, nn

from ...nn import AttentionLayer, Dropout, FeedForward


class DecoderLayer(nn.Module):
    """x = norm1(x + self_attn(x, causal)); x = norm2(x + cross_attn(x, memory)); out = norm3(x + ff(x))."""

    def __init__(self, self_attention: AttentionLayer, cross_attention: AttentionLayer, d_model: int, d_ff: int,
                 dropout: float, activation: str):
        super().__init__()
        self.self_attention = self_attention
        self.cross_attention = cross_attention
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor, keep_last: int | None = None) -> Tensor:
        """With ``keep_last`` only the last rows go past self-attention (which still sees every row): the rest of
        the layer is row-wise, so those rows come out exactly as without the cut."""
        x = self.norm1(x + self.dropout(self.self_attention(x, x, x, causal=True)))
        if keep_last is not None:
            x = x[:, -keep_last:]  # (B, keep_last, E)
        x = self.norm2(x + self.dropout(self.cross_attention(x, memory, memory)))
        return self.norm3(x + self.ff(x))  # (B, L or keep_last, E)


class Decoder(nn.Module):
    def __init__(self, layers: list[DecoderLayer], d_model: int):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor, memory: Tensor, keep_last: int | None = None) -> Tensor:
        """``keep_last``: return only the last rows, computed exactly; the last layer skips cross-attention and the
        feed-forward of the others (18% of Informer's FLOPs at 96/48/24)."""
        for n, layer in enumerate(self.layers):
            x = layer(x, memory, keep_last if n == len(self.layers) - 1 else None)
        return self.norm(x)
