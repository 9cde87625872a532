"""A PatchTST-style forecaster (Nie et al., ICLR 2023): channel independence, patches as tokens, a Transformer
encoder over the patches and a flatten + linear head. Instance normalization (RevIN) comes from the run's series
settings (``models/series.py``), on by default for this model.

Notation: B batch, L seq_len, P pred_len, C channels, C_out forecast channels, K patches, E model width.
"""

from torch import Tensor, nn

from ...attention import build_attention
from ...nn import AttentionLayer, Dropout, EncoderLayer, PatchEmbedding, n_patches
from .config import PatchTSTConfig
from .tst_layer import TSTEncoderLayer


class PatchTST(nn.Module):
    """Each forecast channel is a series on its own through shared weights: patches -> encoder -> flatten -> P.

    Only the forecast channels are encoded: under channel independence the others cannot change them.

    Shape:
        x: (B, L, C), x_mark and future_mark: ignored (the model reads values only); returns (B, P, C_out).
    """

    def __init__(self, config: PatchTSTConfig):
        super().__init__()
        self.config = cfg = config
        self.embedding = PatchEmbedding(cfg.seq_len, cfg.patch_len, cfg.patch_stride, cfg.d_model, cfg.dropout)
        if cfg.tst_layers:
            self.layers = nn.ModuleList([TSTEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout,
                                                         cfg.activation) for _ in range(cfg.e_layers)])
        else:
            self.layers = nn.ModuleList([
                EncoderLayer(AttentionLayer(build_attention(cfg.attn, **cfg.attention_kwargs()), cfg.d_model,
                                            cfg.n_heads), cfg.d_model, cfg.d_ff, cfg.dropout, cfg.activation,
                             cfg.norm)
                for _ in range(cfg.e_layers)])
        k = n_patches(cfg.seq_len, cfg.patch_len, cfg.patch_stride)
        self.head = nn.Sequential(nn.Flatten(start_dim=1), Dropout(cfg.head_dropout),
                                  nn.Linear(k * cfg.d_model, cfg.pred_len))

    def series(self, x: Tensor) -> Tensor:
        """The forecast channels as rows: (B, L, C) -> (B * C_out, L)."""
        B, L, _ = x.shape
        return x[..., -self.config.c_out:].transpose(1, 2).reshape(B * self.config.c_out, L)

    def encode(self, z: Tensor) -> Tensor:
        h = self.embedding(z)  # (B * C_out, K, E)
        logits = None  # PatchTST's layers carry their attention logits to the next
        for layer in self.layers:
            h, logits = layer(h, logits) if self.config.tst_layers else (layer(h), None)
        return self.head(h)  # (B * C_out, P)

    def forward(self, x: Tensor, x_mark: Tensor | None = None, future_mark: Tensor | None = None,
                origin: Tensor | None = None) -> Tensor:
        out = self.encode(self.series(x))  # (B * C_out, P)
        return out.reshape(x.shape[0], self.config.c_out, -1).transpose(1, 2)  # (B, P, C_out)
