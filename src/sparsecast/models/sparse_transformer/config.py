"""Configuration of the Sparse Transformer (Child et al. 2019)."""

import math
from dataclasses import asdict, dataclass

from ...checks import require_positive

ATTNS = ("full", "strided", "fixed")
COMBINES = ("interleaved", "merged", "multihead")


@dataclass(frozen=True)
class SparseTransformerConfig:
    """Decoder-only model of discrete sequences with factorized attention.

    Attributes:
        vocab_size: number of token values (256 for bytes).
        shape: the data's dimensions, whose product is the context length: (T,) for text, (rows, cols) or
            (rows, cols, channels) for images. One learned position embedding per dimension (eq. 15).
        attn: "full", "strided" or "fixed". stride: l (None: ceil(sqrt(context))). c: fixed summary positions
            (None: max(1, l // 8)).
        combine: how the two halves of a sparse pattern share the network: "interleaved" (block r uses pattern
            A^(r mod 2)), "merged" (every head attends to the union) or "multihead" (half the heads each).
        distinct_summaries: fixed pattern: every head attends to its own c summary positions of each block (head h
            to offsets [l - (h+1) c, l - h c)), as the paper prefers, instead of all heads sharing the last c.
        recompute: recompute attention and feed-forward in the backward pass instead of storing activations.
        pattern_position: also embed the position within the attention pattern (i // l and i mod l), the paper's
            d_attn embedding.
    """

    vocab_size: int = 256
    shape: tuple[int, ...] = (256,)
    n_layers: int = 4
    d_model: int = 256
    n_heads: int = 4
    d_ff: int | None = None
    dropout: float = 0.0
    attn: str = "strided"
    stride: int | None = None
    c: int | None = None
    combine: str = "interleaved"
    distinct_summaries: bool = False
    recompute: bool = False
    pattern_position: bool = False

    def __post_init__(self):
        if isinstance(self.shape, list):
            object.__setattr__(self, "shape", tuple(self.shape))
        require_positive(self, ("vocab_size", "n_layers", "d_model", "n_heads"))
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"shape must be positive dimensions, got {self.shape}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.attn not in ATTNS:
            raise ValueError(f"attn must be one of {ATTNS}, got {self.attn!r}")
        if self.combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {self.combine!r}")
        if self.combine == "multihead" and self.attn != "full" and self.n_heads % 2:
            raise ValueError(f"combine 'multihead' splits heads in two: n_heads must be even, got {self.n_heads}")
        if self.stride is not None and self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        if self.c is not None and not 1 <= self.c <= self.block:
            raise ValueError(f"c must be in [1, stride={self.block}], got {self.c}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.distinct_summaries and self.attn == "fixed" and self.n_heads * self.summary > self.block:
            raise ValueError(f"distinct_summaries needs n_heads * c <= stride: {self.n_heads} * {self.summary} > "
                             f"{self.block}")

    @property
    def context(self) -> int:
        return math.prod(self.shape)

    @property
    def block(self) -> int:
        """The stride l in use."""
        return self.stride or max(1, math.ceil(math.sqrt(self.context)))

    @property
    def summary(self) -> int:
        """The fixed pattern's c in use."""
        return self.c or max(1, self.block // 8)

    @property
    def ff_width(self) -> int:
        return self.d_ff or 4 * self.d_model

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SparseTransformerConfig":
        return cls(**{**d, "shape": tuple(d["shape"])})
