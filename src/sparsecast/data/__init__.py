"""Data: reading CSVs, the paper's splits, scaling, time features and sliding windows."""

from .batch import ForecastBatch
from .datasets import BUILTIN, DataConfig, PreparedData, prepare_data, prepare_frame
from .frame import normalize_frame, read_table
from .scaler import StandardScaler
from .splits import split_borders
from .windows import WindowLoader, WindowSet

__all__ = ["BUILTIN", "DataConfig", "ForecastBatch", "PreparedData", "StandardScaler", "WindowLoader", "WindowSet",
           "normalize_frame", "prepare_data", "prepare_frame", "read_table", "split_borders"]
