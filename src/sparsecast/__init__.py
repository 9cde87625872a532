"""sparsecast: long-sequence modeling with sparse attention (Informer, Sparse Transformer) on PyTorch."""

from .data import read_table
from .errors import CheckpointError, DataError, SparsecastError
from .forecaster import Forecaster

__version__ = "0.1.0"
__all__ = ["CheckpointError", "DataError", "Forecaster", "SparsecastError", "read_table"]
