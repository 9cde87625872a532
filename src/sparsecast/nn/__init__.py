"""Building blocks shared by the models."""

from .attention_layer import AttentionLayer
from .embedding import EMBEDDINGS, DataEmbedding
from .encoder_layer import EncoderLayer, FeedForward
from .patching import PatchEmbedding, n_patches
from .revin import RevIN

__all__ = ["AttentionLayer", "DataEmbedding", "EMBEDDINGS", "EncoderLayer", "FeedForward", "PatchEmbedding", "RevIN",
           "n_patches"]
