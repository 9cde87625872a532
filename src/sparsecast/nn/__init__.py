"""Building blocks shared by the models."""

from .attention_layer import AttentionLayer
from .embedding import EMBEDDINGS, DataEmbedding
from .encoder_layer import ACTIVATIONS, EncoderLayer, FeedForward
from .patching import PatchEmbedding, n_patches
from .revin import RevIN

__all__ = ["ACTIVATIONS", "AttentionLayer", "DataEmbedding", "EMBEDDINGS", "EncoderLayer", "FeedForward",
           "PatchEmbedding", "RevIN", "n_patches"]
