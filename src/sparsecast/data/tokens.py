"""Discrete sequences for autoregressive models: bytes of a text file, and 8x8 digit images as 17-level tokens.

Notation: B batch, T sequence length.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .batch import moved


@dataclass
class TokenBatch:
    """tokens: (B, T) model input; targets: (B, T), the next token at every position."""

    tokens: Tensor
    targets: Tensor

    def inputs(self) -> dict[str, Tensor]:
        return {"tokens": self.tokens}

    def to(self, device) -> "TokenBatch":
        return TokenBatch(moved(self.tokens, device), moved(self.targets, device))

    @property
    def target(self) -> Tensor:
        return self.targets

    def __len__(self) -> int:
        return self.tokens.shape[0]


@dataclass
class TokenData:
    """Train/val/test token arrays and how to cut them.

    Attributes:
        kind: "stream" (one long sequence; windows of ``context`` + 1 tokens) or "images" (rows of fixed length,
            each predicted in full after a start token).
        vocab_size: token values, including the start token for images.
        shape: data dimensions for position embeddings, e.g. (context,) or (8, 8).
        unit: what one token is, for reporting bits per unit ("byte" or "dim").
    """

    kind: str
    splits: dict[str, np.ndarray]
    vocab_size: int
    shape: tuple[int, ...]
    unit: str

    def random_batches(self, split: str, batch_size: int, seed: int):
        """An endless stream of random training batches, repeatable for a seed."""
        gen = torch.Generator().manual_seed(seed)
        data = torch.as_tensor(self.splits[split].astype(np.int64))
        while True:
            if self.kind == "stream":
                T = self.shape[0] if len(self.shape) == 1 else int(np.prod(self.shape))
                starts = torch.randint(len(data) - T, (batch_size,), generator=gen)
                window = data[starts.unsqueeze(1) + torch.arange(T + 1)]  # (B, T + 1)
                yield TokenBatch(window[:, :-1], window[:, 1:])
            else:
                yield self._image_batch(data[torch.randint(len(data), (batch_size,), generator=gen)])

    def eval_batches(self, split: str, batch_size: int, max_batches: int | None = None):
        """Batches covering the split in order (non-overlapping windows for streams)."""
        data = torch.as_tensor(self.splits[split].astype(np.int64))
        if self.kind == "stream":
            T = int(np.prod(self.shape))
            n = (len(data) - 1) // T
            starts = torch.arange(n) * T
        else:
            n = len(data)
            starts = torch.arange(n)
        for k, i in enumerate(range(0, n, batch_size)):
            if max_batches is not None and k >= max_batches:
                return
            idx = starts[i:i + batch_size]
            if self.kind == "stream":
                window = data[idx.unsqueeze(1) + torch.arange(T + 1)]
                yield TokenBatch(window[:, :-1], window[:, 1:])
            else:
                yield self._image_batch(data[idx])

    def _image_batch(self, images: Tensor) -> TokenBatch:
        start = torch.full((len(images), 1), self.vocab_size - 1, dtype=images.dtype)  # the start token
        return TokenBatch(torch.cat([start, images[:, :-1]], dim=1), images)


def byte_data(path: str | Path, context: int) -> TokenData:
    """Bytes of a text file, split 90 / 5 / 5 contiguously."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"text file not found: {path}")
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    n = len(raw)
    a, b = int(n * 0.9), int(n * 0.95)
    if min(a, b - a, n - b) <= context + 1:
        raise DataError(f"{path} has {n} bytes: too few for windows of {context} in every split (90/5/5)")
    return TokenData("stream", {"train": raw[:a], "val": raw[a:b], "test": raw[b:]}, 256, (context,), "byte")


def digits_data() -> TokenData:
    """scikit-learn's 1797 8x8 handwritten digits, pixel values 0..16 in raster order; split by index:
    train [0, 1500), val [1500, 1650), test [1650, 1797). Token 17 is the start token."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise DataError("the digits set needs scikit-learn: pip install 'sparsecast[images]'") from e
    images = load_digits().data.astype(np.int64)  # (1797, 64)
    splits = {"train": images[:1500], "val": images[1500:1650], "test": images[1650:]}
    return TokenData("images", splits, 18, (8, 8), "dim")
