"""Input embedding of Informer: value (conv) + sinusoidal position + time-stamp embedding.

Notation: B batch, L length, C input channels, T time features, E model width.
"""

import math

import torch
from torch import Tensor, nn

from ..timefeatures import freq_family, n_time_features
from .conv import circular_conv
from .dropout import Dropout

EMBEDDINGS = ("timeF", "fixed", "learned")


def sinusoid_table(n: int, dim: int) -> Tensor:
    """The Transformer's sinusoidal table, (n, dim)."""
    pos = torch.arange(n, dtype=torch.float32).unsqueeze(1)  # (n, 1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * -(math.log(10000.0) / dim))  # (dim/2,)
    table = torch.zeros(n, dim)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)[:, : dim // 2]
    return table


class PositionalEmbedding(nn.Module):
    def __init__(self, d_model: int, max_len: int = 5000):
        super().__init__()
        self.register_buffer("table", sinusoid_table(max_len, d_model), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.table[: x.shape[1]].unsqueeze(0)  # (1, L, E)


class TokenEmbedding(nn.Module):
    """Values to width E by a Conv1d of kernel 3 with circular padding (``self.conv`` holds its weight)."""

    def __init__(self, c_in: int, d_model: int):
        super().__init__()
        self.conv = nn.Conv1d(c_in, d_model, kernel_size=3, padding=1, padding_mode="circular", bias=False)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="leaky_relu")

    def forward(self, x: Tensor) -> Tensor:
        # one matrix multiply over the shifted rows (nn/conv.py): the output is row-major (B, L, E), where
        # ``self.conv``'s transposed output would carry its layout through the residual stream (bf16 linear layers
        # under autocast read such inputs 4-7x slower)
        return circular_conv(x, self.conv.weight)  # (B, L, E)


class CalendarEmbedding(nn.Module):
    """Sum of embeddings of month, day, weekday, hour (and minute // 15 for sub-hourly data).

    Args:
        learned: trainable ``nn.Embedding`` tables ("learned") or frozen sinusoid tables ("fixed").
    """

    SIZES = (13, 32, 7, 24, 4)  # month, day, weekday, hour, minute // 15

    def __init__(self, d_model: int, learned: bool, use_minute: bool):
        super().__init__()
        n_fields = len(self.SIZES) if use_minute else len(self.SIZES) - 1
        self.tables = nn.ModuleList()
        for size in self.SIZES[:n_fields]:
            table = nn.Embedding(size, d_model)
            if not learned:
                table.weight.data.copy_(sinusoid_table(size, d_model))
                table.weight.requires_grad_(False)
            self.tables.append(table)

    def forward(self, marks: Tensor) -> Tensor:
        marks = marks.long()  # (B, L, 5)
        return sum(table(marks[..., f]) for f, table in enumerate(self.tables))  # (B, L, E)


class DataEmbedding(nn.Module):
    """value + position + time-stamp embedding, then dropout.

    Shape:
        x: (B, L, C), marks: (B, L, T); returns (B, L, E).
    """

    def __init__(self, c_in: int, d_model: int, embed: str = "timeF", freq: str = "h", dropout: float = 0.05):
        super().__init__()
        if embed not in EMBEDDINGS:
            raise ValueError(f"embed must be one of {EMBEDDINGS}, got {embed!r}")
        self.value = TokenEmbedding(c_in, d_model)
        self.position = PositionalEmbedding(d_model)
        if embed == "timeF":
            self.temporal = nn.Linear(n_time_features(freq, embed), d_model, bias=False)
        else:
            self.temporal = CalendarEmbedding(d_model, learned=embed == "learned",
                                              use_minute=freq_family(freq) in ("t", "s"))
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor, marks: Tensor) -> Tensor:
        return self.dropout(self.value(x) + self.position(x) + self.temporal(marks))
