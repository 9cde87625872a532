"""The Sparse Transformer (Child et al. 2019): pre-activation residual blocks over factorized causal attention.

Notation: B batch, T sequence length, E model width, V vocabulary.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ...attention import Attention, HeadGroups, build_attention
from ...nn import AttentionLayer, Dropout
from .config import SparseTransformerConfig

PARTS = {"strided": ("local", "stride"), "fixed": ("block", "summary")}


def gelu_sigmoid(x: Tensor) -> Tensor:
    """f(x) = x * sigmoid(1.702 x), the paper's GeLU approximation."""
    return x * torch.sigmoid(1.702 * x)


def block_kernel(cfg: SparseTransformerConfig, layer: int) -> Attention:
    """The attention kernel of residual block ``layer`` under the config's pattern and combination."""
    if cfg.attn == "full":
        return build_attention("full")
    params = {"stride": cfg.block, **({"c": cfg.summary} if cfg.attn == "fixed" else {})}
    parts = PARTS[cfg.attn]
    if cfg.combine == "merged":
        return _kernel(cfg, "union", params, cfg.n_heads)
    if cfg.combine == "interleaved":
        return _kernel(cfg, parts[layer % len(parts)], params, cfg.n_heads)
    return HeadGroups([_kernel(cfg, p, params, cfg.n_heads // 2) for p in parts])


def _kernel(cfg: SparseTransformerConfig, part: str, params: dict, heads: int) -> Attention:
    """One pattern part on ``heads`` heads; with ``distinct_summaries`` each head reads its own summary sub-block
    (fixed pattern, offsets 0, c, 2c, ...: the paper's preferred variant)."""
    if not (cfg.distinct_summaries and cfg.attn == "fixed" and part in ("union", "summary")):
        return build_attention(cfg.attn, part=part, **params)
    return HeadGroups([build_attention("fixed", part=part, offset=h * cfg.summary, **params) for h in range(heads)])


class PositionEmbedding(nn.Module):
    """Sum of one learned embedding per data dimension (eq. 15), optionally plus the position within the pattern.

    For shape (rows, cols) position i has row i // cols and column i % cols; each gets its own table.
    """

    def __init__(self, shape: tuple[int, ...], d_model: int, pattern_block: int | None = None):
        super().__init__()
        self.shape = shape
        self.dims = nn.ModuleList(nn.Embedding(n, d_model) for n in shape)
        self.pattern_block = pattern_block
        if pattern_block:
            context = math.prod(shape)
            self.pattern = nn.ModuleList([nn.Embedding(math.ceil(context / pattern_block), d_model),
                                          nn.Embedding(pattern_block, d_model)])

    def forward(self, T: int, device) -> Tensor:
        pos = torch.arange(T, device=device)
        out = 0
        stride = math.prod(self.shape)
        for n, table in zip(self.shape, self.dims):
            stride //= n
            out = out + table((pos // stride) % n)  # (T, E)
        if self.pattern_block:
            out = out + self.pattern[0](pos // self.pattern_block) + self.pattern[1](pos % self.pattern_block)
        return out


class ResidualBlock(nn.Module):
    """resblock(H) = a(H) + b(H), a(H) = dropout(attn(norm(H))), b(H) = dropout(ff(norm(H + a(H)))) (Section 5.2)."""

    def __init__(self, kernel: Attention, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.norm_a = nn.LayerNorm(d_model)
        self.attention = AttentionLayer(kernel, d_model, n_heads)
        self.norm_b = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.dropout = Dropout(dropout)

    def forward(self, h: Tensor) -> Tensor:
        x = self.norm_a(h)
        a = self.dropout(self.attention(x, x, x, causal=True))
        b = self.dropout(self.fc2(gelu_sigmoid(self.fc1(self.norm_b(h + a)))))
        return a + b  # the residual update, (B, T, E)


class SparseTransformer(nn.Module):
    """Autoregressive model p(x) = prod_i p(x_i | x_<i) with sparse factorized self-attention.

    Shape:
        tokens: (B, T) with T <= context; returns logits (B, T, V) for the next token at every position.
    """

    def __init__(self, config: SparseTransformerConfig):
        super().__init__()
        self.config = cfg = config
        self.token = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.position = PositionEmbedding(cfg.shape, cfg.d_model,
                                          cfg.block if cfg.pattern_position and cfg.attn != "full" else None)
        self.dropout = Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            ResidualBlock(block_kernel(cfg, r), cfg.d_model, cfg.n_heads, cfg.ff_width, cfg.dropout)
            for r in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.apply(self._init)
        # Scale the residual branches' output projections by 1/sqrt(2N) so deep stacks start stable.
        for block in self.blocks:
            for proj in (block.attention.out_proj, block.fc2):
                proj.weight.data.mul_(1.0 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, tokens: Tensor) -> Tensor:
        B, T = tokens.shape
        if T > self.config.context:
            raise ValueError(f"sequence of {T} tokens is longer than the context {self.config.context}")
        h = self.dropout(self.token(tokens) + self.position(T, tokens.device))  # (B, T, E)
        for block in self.blocks:
            if self.config.recompute and self.training and torch.is_grad_enabled():
                h = h + checkpoint(block, h, use_reentrant=False)
            else:
                h = h + block(h)
        return self.head(self.norm(h))  # (B, T, V)

    @torch.no_grad()
    def generate(self, prompt: Tensor, n_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 seed: int | None = None) -> Tensor:
        """Sample ``n_tokens`` after ``prompt`` (B, T0); returns (B, T0 + n_tokens). The same seed, the same text."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        gen = torch.Generator(device=prompt.device)
        gen.manual_seed(torch.seed() if seed is None else seed)
        was_training = self.training
        self.eval()
        out = prompt
        for _ in range(n_tokens):
            logits = self(out[:, -self.config.context:])[:, -1] / temperature  # (B, V)
            if top_k:
                kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=gen)  # (B, 1)
            out = torch.cat([out, nxt], dim=1)
        self.train(was_training)
        return out
