"""Models: Informer, LongPatch and PatchTST for forecasting with simple and statistical baselines, and the Sparse
Transformer for discrete sequences."""

from .baselines import BaselineConfig, DLinear, RepeatLast
from .informer import Informer, InformerConfig, decoder_input
from .longpatch import LongPatch, LongPatchConfig
from .patchtst import PatchTST, PatchTSTConfig
from .registry import FORECASTERS, MODELS, model_classes, series_config
from .series import SERIES_FIELDS, SeriesConfig, SeriesModel, unwrap, wrap
from .sparse_transformer import SparseTransformer, SparseTransformerConfig
from .statistical import SeasonalNaive, StatisticalConfig

__all__ = ["BaselineConfig", "DLinear", "FORECASTERS", "Informer", "InformerConfig", "LongPatch", "LongPatchConfig",
           "MODELS", "PatchTST", "PatchTSTConfig", "RepeatLast", "SERIES_FIELDS", "SeasonalNaive", "SeriesConfig",
           "SeriesModel", "SparseTransformer", "SparseTransformerConfig", "StatisticalConfig", "decoder_input",
           "model_classes", "series_config", "unwrap", "wrap"]
