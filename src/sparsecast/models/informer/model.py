"""The Informer model (Zhou et al., AAAI 2021) for long-sequence time-series forecasting.

Notation: B batch, C channels, T time features, E model width; seq_len, label_len, pred_len as in the config.
"""

import torch
from torch import Tensor, nn

from ...attention import ProbSparseAttention, attention_params, build_attention
from ...nn import AttentionLayer, DataEmbedding, EncoderLayer
from .config import InformerConfig
from .decoder import Decoder, DecoderLayer
from .encoder import DistilLayer, Encoder, EncoderStack


def decoder_input(x: Tensor, x_mark: Tensor, future_mark: Tensor, label_len: int) -> tuple[Tensor, Tensor]:
    """The generative decoder's input: the last ``label_len`` known steps, then zero placeholders for the horizon.

    The one place this is built. The time stamps are the known steps' stamps followed by the horizon's.

    Shape:
        x: (B, seq_len, C), x_mark: (B, seq_len, T), future_mark: (B, pred_len, T);
        returns values (B, label_len + pred_len, C) and stamps (B, label_len + pred_len, T).
    """
    B, _, C = x.shape
    pred_len = future_mark.shape[1]
    known = x[:, x.shape[1] - label_len:]  # (B, label_len, C)
    values = torch.cat([known, x.new_zeros(B, pred_len, C)], dim=1)
    stamps = torch.cat([x_mark[:, x_mark.shape[1] - label_len:], future_mark], dim=1)
    return values, stamps


class Informer(nn.Module):
    """Informer: ProbSparse (or any registered) self-attention encoder with distilling, generative decoder.

    Args:
        config: the model's hyperparameters.

    Shape:
        x: (B, seq_len, enc_in), x_mark: (B, seq_len, T), future_mark: (B, pred_len, T);
        returns the forecast (B, pred_len, c_out).
    """

    def __init__(self, config: InformerConfig):
        super().__init__()
        self.config = cfg = config
        self._kernels_built = 0
        self.enc_embedding = DataEmbedding(cfg.enc_in, cfg.d_model, cfg.embed, cfg.freq, cfg.dropout)
        self.dec_embedding = DataEmbedding(cfg.dec_in, cfg.d_model, cfg.embed, cfg.freq, cfg.dropout)
        if cfg.stack:
            self.encoder = EncoderStack([self._encoder(n) for n in cfg.stack])
        else:
            self.encoder = self._encoder(cfg.e_layers)
        self.decoder = Decoder([
            DecoderLayer(self._attention(cfg.attn, mix=cfg.mix), self._attention("full"), cfg.d_model, cfg.d_ff,
                         cfg.dropout, cfg.activation)
            for _ in range(cfg.d_layers)
        ], cfg.d_model)
        self.projection = nn.Linear(cfg.d_model, cfg.c_out)

    def _attention(self, name: str, mix: bool = False) -> AttentionLayer:
        kwargs = self.config.attention_kwargs() if name == self.config.attn else {}
        if self.config.layer_seeds and "eval_seed" in attention_params(name):
            kwargs["eval_seed"] = self._kernels_built  # distinct, deterministic eval samples per layer
        self._kernels_built += 1
        return AttentionLayer(build_attention(name, **kwargs), self.config.d_model, self.config.n_heads, mix)

    def _encoder(self, n_layers: int) -> Encoder:
        cfg = self.config
        layers = [EncoderLayer(self._attention(cfg.attn), cfg.d_model, cfg.d_ff, cfg.dropout, cfg.activation)
                  for _ in range(n_layers)]
        distils = [DistilLayer(cfg.d_model) for _ in range(n_layers - 1)] if cfg.distil else None
        return Encoder(layers, distils, cfg.d_model)

    def forward(self, x: Tensor, x_mark: Tensor, future_mark: Tensor, origin: Tensor | None = None):
        cfg = self.config
        memory = self.encoder(self.enc_embedding(x, x_mark))  # (B, S, E)
        dec_x, dec_mark = decoder_input(x, x_mark, future_mark, cfg.label_len)
        # Only the horizon's rows are projected, so the last decoder layer computes only those (exactly).
        h = self.decoder(self.dec_embedding(dec_x, dec_mark), memory, keep_last=future_mark.shape[1])  # (B, P, E)
        forecast = self.projection(h)  # (B, pred_len, c_out)
        if not cfg.output_attention:
            return forecast
        return forecast, self.active_queries()

    def encoder_kernels(self) -> list:
        """The attention kernels of the encoder's self-attention layers, in order."""
        return [m.kernel for name, m in self.named_modules()
                if isinstance(m, AttentionLayer) and name.startswith("encoder")]

    def active_queries(self) -> list[Tensor | None]:
        """Per encoder self-attention layer, the (B, H, u) active queries of its last call (None if not ProbSparse)."""
        return [k.last_active if isinstance(k, ProbSparseAttention) else None for k in self.encoder_kernels()]
