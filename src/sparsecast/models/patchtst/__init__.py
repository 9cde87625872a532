from .config import PatchTSTConfig
from .model import PatchTST

__all__ = ["PatchTST", "PatchTSTConfig"]
