"""Per-column standard scaling, fit on the training rows only."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StandardScaler:
    """(x - mean) / std per column; a constant column gets std 1 so it scales to zeros instead of inf."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "StandardScaler":
        std = x.std(axis=0)
        return cls(mean=x.mean(axis=0), std=np.where(std > 0, std, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    def inverse(self, x: np.ndarray, columns: slice | list[int] = slice(None)) -> np.ndarray:
        """Undo ``transform`` on values of the given columns (last axis)."""
        return x * self.std[columns] + self.mean[columns]

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "StandardScaler":
        return cls(mean=np.asarray(d["mean"], dtype=np.float64), std=np.asarray(d["std"], dtype=np.float64))
