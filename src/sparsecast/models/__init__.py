"""Models: Informer for forecasting with simple baselines, and the Sparse Transformer for discrete sequences."""

from .baselines import BaselineConfig, DLinear, RepeatLast
from .informer import Informer, InformerConfig, decoder_input
from .registry import MODELS, model_classes
from .sparse_transformer import SparseTransformer, SparseTransformerConfig

__all__ = ["BaselineConfig", "DLinear", "Informer", "InformerConfig", "MODELS", "RepeatLast", "SparseTransformer", "SparseTransformerConfig", "decoder_input",
           "model_classes"]
