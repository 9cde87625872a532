"""Exact softmax attention: PyTorch's fused kernel, or its explicit form where that is faster."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Attention, check_qkv

EXPLICIT_MAX = 1 << 15  # query x key positions up to which bf16 CPU training takes the explicit form
EXPLICIT_MAX_KEYS = 192  # and keys per query
EXPLICIT_MIN_HEAD_DIM = 32  # and head widths from which; narrower heads upcast to the fused float32 kernel


def _small_training(q: Tensor, k: Tensor, v: Tensor) -> bool:
    """CPU training (gradients recorded) in bf16 or fp16 at up to ``EXPLICIT_MAX`` (L x S) positions and
    ``EXPLICIT_MAX_KEYS`` keys: where the fused kernel's own low-precision backward is slow. Under torch.compile too:
    both routes are plain tensor ops with no loop a graph would bake in."""
    return (q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16) and torch.is_grad_enabled()
            and (q.requires_grad or k.requires_grad or v.requires_grad) and k.shape[2] <= EXPLICIT_MAX_KEYS
            and q.shape[2] * k.shape[2] <= EXPLICIT_MAX)


def explicit(q: Tensor, k: Tensor, v: Tensor) -> bool:
    """Whether ``softmax_attention`` takes the explicit form: in CPU training in bf16 or fp16 at small sizes
    (``_small_training``) with heads at least ``EXPLICIT_MIN_HEAD_DIM`` wide. There the fused kernel's backward pass
    is slower than the explicit one in float32 (torch 2.13, AMX and AVX512-BF16 CPUs, B 32, H 8, D 64, forward and
    backward: 10.4 against 3.6 ms at L 24, S 48; one thread, 41.8 against 12.4 ms at 48 x 48, 143 against 100 at
    Informer's cross-attention of 336 x 84), and the (B, H, L, S) weights it keeps are small. More keys or positions
    keep the fused kernel (one thread: 118 against 141 ms at 128 x 256, 197 against 217 at 504 x 84, 228 against
    514 at 336 x 336)."""
    return _small_training(q, k, v) and q.shape[-1] >= EXPLICIT_MIN_HEAD_DIM


def upcast(q: Tensor, k: Tensor, v: Tensor) -> bool:
    """Whether ``softmax_attention`` calls the fused kernel in float32 on float32 copies: the same small bf16 or fp16
    CPU training, with heads narrower than ``EXPLICIT_MIN_HEAD_DIM``. There the explicit form's batched products of
    tiny matrices are slow and the fused kernel is faster in float32 than in bf16 (benchmarks/narrow_heads.py, one
    thread, AMX CPU, forward and backward at 42 x 42, batch 896: heads of 4 1.47x the explicit form's speed, of 8
    1.26x, of 16 1.14x, the fused bf16 kernel 0.2-0.3x; a PatchTST-style step with 16 heads of 8 1.15x). Heads of 32
    were a tie (1.10x in one run, 0.9x in another) and Informer's of 64 are faster explicit (0.91-0.95x upcast).
    Like the fused kernel at every other size, this route has no double backward or forward-mode derivative."""
    return _small_training(q, k, v) and q.shape[-1] < EXPLICIT_MIN_HEAD_DIM


def softmax_attention(q: Tensor, k: Tensor, v: Tensor, causal: bool = False, visible: Tensor | None = None) -> Tensor:
    """softmax(q k^T / sqrt(D)) v, ``F.scaled_dot_product_attention``'s values: ``causal`` top-left aligned,
    ``visible`` a bool mask (broadcast to (B, H, L, S)) of the keys each query may see; with both, a key must pass
    both. A query that sees no key gets zeros.

    The explicit form computes in float32 with autocast off and returns q's dtype: the scores' precision of the
    fused kernel (float32 accumulation of bf16 inputs), with the weights kept in float32 too. Narrow heads in the
    same cases (``upcast``) run the fused kernel on float32 copies, rounded to q's dtype once at the end.

    Shape:
        q: (B, H, L, D); k, v: (B, H, S, D); returns (B, H, L, D).
    """
    if upcast(q, k, v):
        with torch.autocast(q.device.type, enabled=False):
            out = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=visible, is_causal=causal)
        return out.to(q.dtype)  # (B, H, L, D)
    if not explicit(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=visible, is_causal=causal)
    L, S = q.shape[2], k.shape[2]
    if causal:
        below = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
        visible = below if visible is None else visible & below
    with torch.autocast("cpu", enabled=False):
        scores = (q.float() @ k.float().transpose(-2, -1)).mul_(1 / math.sqrt(q.shape[-1]))  # (B, H, L, S)
        if visible is None:
            return (torch.softmax(scores, -1) @ v.float()).to(q.dtype)  # (B, H, L, D)
        weights = torch.softmax(scores.masked_fill(~visible, float("-inf")), -1)
        weights = weights.masked_fill(~visible.any(-1, keepdim=True), 0.0)  # no key seen: zeros, not NaN
        return (weights @ v.float()).to(q.dtype)  # (B, H, L, D)


class FullAttention(Attention):
    """Dense softmax(q k^T / sqrt(D)) v via ``scaled_dot_product_attention`` (``softmax_attention``).

    With ``causal=True`` query i sees keys j <= i (top-left aligned when L != S).
    """

    def forward(self, q: Tensor, k: Tensor, v: Tensor, causal: bool = False) -> Tensor:
        check_qkv(q, k, v)
        return softmax_attention(q, k, v, causal)  # (B, H, L, D)
