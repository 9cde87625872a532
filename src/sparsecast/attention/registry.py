"""The explicit registry of attention kernels, built by name."""

import inspect

from .base import Attention
from .fixed import FixedAttention
from .full import FullAttention
from .probsparse import ProbSparseAttention
from .strided import StridedAttention

ATTENTION: dict[str, type[Attention]] = {
    "full": FullAttention,
    "probsparse": ProbSparseAttention,
    "strided": StridedAttention,
    "fixed": FixedAttention,
}


def attention_params(name: str) -> set[str]:
    """The constructor parameters the kernel ``name`` takes."""
    return set(inspect.signature(_kernel(name)).parameters)


def kernel_settings(name: str, **settings) -> dict:
    """The ``settings`` (a model config's attention fields) that the kernel ``name`` takes; the rest are dropped."""
    params = attention_params(name)
    return {k: v for k, v in settings.items() if k in params}


def _kernel(name: str) -> type[Attention]:
    if name not in ATTENTION:
        raise ValueError(f"unknown attention {name!r}; choose one of {sorted(ATTENTION)}")
    return ATTENTION[name]


def build_attention(name: str, **params) -> Attention:
    """Build the kernel registered as ``name`` with its variant settings, e.g. ``build_attention("fixed", stride=8, c=2)``.

    Raises:
        ValueError: for an unknown name or a parameter the kernel does not take.
    """
    kernel = _kernel(name)
    unknown = set(params) - attention_params(name)
    if unknown:
        raise ValueError(f"attention {name!r} takes {sorted(attention_params(name))}, not {sorted(unknown)}")
    return kernel(**params)
