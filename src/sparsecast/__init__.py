"""sparsecast: long-sequence modeling with sparse attention (Informer, Sparse Transformer) on PyTorch."""

from .errors import CheckpointError, DataError, SparsecastError
from .forecaster import Forecaster

__version__ = "0.1.0"
__all__ = ["CheckpointError", "DataError", "Forecaster", "SparsecastError"]
