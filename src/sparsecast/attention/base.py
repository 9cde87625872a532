"""The one attention interface every kernel implements.

Notation: B batch, H heads, L query length, S key length, D head dim.
"""

import torch
from torch import Tensor, nn


class Attention(nn.Module):
    """Base class of attention kernels.

    A kernel maps queries (B, H, L, D) and keys/values (B, H, S, D) to outputs (B, H, L, D) through
    ``forward(q, k, v, causal=False) -> Tensor``. Its variant settings (factor, stride, c, ...) are constructor
    arguments; ``forward`` takes only the tensors and ``causal``. Subclasses define ``forward``.
    """


def building_graph() -> bool:
    """Whether torch.compile, tracing or ONNX export is recording a graph now: the CPU fast paths, whose Python loops
    would be baked in with the example's sizes, step aside for their plain form."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


def check_qkv(q: Tensor, k: Tensor, v: Tensor, self_attention: bool = False) -> None:
    """Raise ValueError unless q is (B, H, L, D) and k, v are (B, H, S, D) (with S == L if ``self_attention``)."""
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"q, k, v must be 4-D (B, H, L, D); got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if k.shape != v.shape or q.shape[:2] != k.shape[:2] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"incompatible q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    if self_attention and q.shape[2] != k.shape[2]:
        raise ValueError(f"this kernel is for self-attention: L ({q.shape[2]}) must equal S ({k.shape[2]})")
