from .config import InformerConfig
from .model import Informer, decoder_input

__all__ = ["Informer", "InformerConfig", "decoder_input"]
