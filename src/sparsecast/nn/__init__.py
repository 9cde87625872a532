"""Building blocks shared by the models."""

from .attention_layer import AttentionLayer
from .dropout import Dropout
from .embedding import EMBEDDINGS, DataEmbedding
from .encoder_layer import EncoderLayer
from .feed_forward import ACTIVATIONS, FeedForward
from .patching import PatchEmbedding, n_patches
from .revin import RevIN

__all__ = ["ACTIVATIONS", "AttentionLayer", "DataEmbedding", "Dropout", "EMBEDDINGS", "EncoderLayer", "FeedForward",
           "PatchEmbedding", "RevIN", "n_patches"]
