"""Building blocks shared by the models."""

from .attention_layer import AttentionLayer
from .embedding import EMBEDDINGS, DataEmbedding

__all__ = ["AttentionLayer", "DataEmbedding", "EMBEDDINGS"]
