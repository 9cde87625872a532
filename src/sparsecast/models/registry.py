"""Models by name, each with its frozen config class."""

from .baselines import BaselineConfig, DLinear, RepeatLast
from .informer import Informer, InformerConfig
from .sparse_transformer import SparseTransformer, SparseTransformerConfig

MODELS = {
    "informer": (Informer, InformerConfig),
    "dlinear": (DLinear, BaselineConfig),
    "repeat_last": (RepeatLast, BaselineConfig),
    "sparse_transformer": (SparseTransformer, SparseTransformerConfig),
}


def model_classes(name: str):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name]
