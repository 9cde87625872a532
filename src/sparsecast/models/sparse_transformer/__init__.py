from .config import SparseTransformerConfig
from .model import SparseTransformer

__all__ = ["SparseTransformer", "SparseTransformerConfig"]
