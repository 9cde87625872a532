"""Multi-head attention around any registered kernel: projections in, kernel, projection out.

Notation: B batch, L query length, S key length, H heads, D head dim, E model width.
"""

from torch import Tensor, nn

from ..attention import Attention
from .autocast import lowered


class AttentionLayer(nn.Module):
    """Project (B, L, E) inputs to H heads, run the kernel on (B, H, L, D), merge heads back to (B, L, E).

    ``mix`` merges the heads as the official Informer code's ``mix=True`` does (its decoder self-attention): the
    kernel's (B, H, L, D) output read in memory order as (B, L, H*D), so row l holds H consecutive positions of one
    head (of two where it crosses a head's end), not position l of every head. Off (the default), row l is position
    l's heads side by side.
    """

    def __init__(self, kernel: Attention, d_model: int, n_heads: int, mix: bool = False):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.kernel = kernel
        self.n_heads = n_heads
        self.mix = mix
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def _heads(self, x: Tensor) -> Tensor:
        B, L, E = x.shape
        return x.view(B, L, self.n_heads, E // self.n_heads).transpose(1, 2)  # (B, H, L, D)

    def forward(self, queries: Tensor, keys: Tensor, values: Tensor, causal: bool = False) -> Tensor:
        queries, keys, values = lowered(queries, keys, values)
        q, k, v = self._heads(self.q_proj(queries)), self._heads(self.k_proj(keys)), self._heads(self.v_proj(values))
        out = self.kernel(q, k, v, causal=causal)  # (B, H, L, D)
        B, H, L, D = out.shape
        merged = out if self.mix else out.transpose(1, 2)  # mix: (B, H, L, D) memory order, positions and heads mixed
        return self.out_proj(merged.reshape(B, L, H * D))  # (B, L, E)
