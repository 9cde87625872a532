"""Models: Informer for forecasting, plus simple baselines."""

from .baselines import BaselineConfig, DLinear, RepeatLast
from .informer import Informer, InformerConfig, decoder_input
from .registry import MODELS, model_classes

__all__ = ["BaselineConfig", "DLinear", "Informer", "InformerConfig", "MODELS", "RepeatLast", "decoder_input",
           "model_classes"]
