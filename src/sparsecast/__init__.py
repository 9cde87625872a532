"""sparsecast: long-sequence modeling with sparse attention (Informer, Sparse Transformer) on PyTorch."""

__version__ = "0.1.0"
