from .config import LongPatchConfig
from .model import LongPatch

__all__ = ["LongPatch", "LongPatchConfig"]
