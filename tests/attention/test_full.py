"""Softmax attention's explicit form (bf16 CPU training at small sizes) against a float64 dense reference and the
fused kernel."""

import math

import pytest
import torch
import torch.nn.functional as F

from sparsecast.attention import build_attention
from sparsecast.attention.full import EXPLICIT_MAX, explicit, softmax_attention


def _reference(q, k, v, visible):
    q, k, v = (t.double() for t in (q, k, v))
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    return torch.softmax(scores.masked_fill(~visible, float("-inf")), -1) @ v


@pytest.mark.parametrize("mask", ["none", "causal", "visible"])
def test_explicit_form_matches_float64_in_values_and_gradients(mask):
    torch.manual_seed(0)
    B, H, L, S, D = 2, 3, 11, 24, 16
    q, k, v = (torch.randn(B, H, n, D).bfloat16().requires_grad_() for n in (L, S, S))
    visible = torch.ones(L, S, dtype=torch.bool)
    if mask == "causal":
        visible = visible.tril()
    elif mask == "visible":
        visible = torch.rand(B, H, L, S) < 0.6
        visible[..., 0] = True  # every query sees a key
    assert explicit(q, k, v)
    with torch.autocast("cpu", torch.bfloat16):  # autocast is switched off inside: the float32 products stay so
        out = softmax_attention(q, k, v, causal=mask == "causal", visible=visible if mask == "visible" else None)
    assert out.dtype == torch.bfloat16
    grad = torch.randn_like(out)
    out.backward(grad)
    leaves = [t.detach().double().requires_grad_() for t in (q, k, v)]
    ref = _reference(*leaves, visible)
    ref.backward(grad.double())
    torch.testing.assert_close(out.double(), ref, rtol=0, atol=2e-2)  # the output's bf16 rounding
    for got, want in zip((q, k, v), leaves):
        torch.testing.assert_close(got.grad.double(), want.grad, rtol=0, atol=3e-2)
    fused = F.scaled_dot_product_attention(q.detach(), k.detach(), v.detach(), attn_mask=visible)
    torch.testing.assert_close(out.detach(), fused, rtol=0, atol=2e-2)


def test_explicit_form_only_in_low_precision_training_at_small_sizes():
    q, k, v = (torch.randn(2, 2, 8, 4).bfloat16().requires_grad_() for _ in range(3))
    assert explicit(q, k, v)
    with torch.no_grad():
        assert not explicit(q, k, v)  # evaluation keeps the fused kernel
    assert not explicit(*(t.detach() for t in (q, k, v)))
    assert not explicit(*(t.float() for t in (q, k, v)))
    side = math.isqrt(EXPLICIT_MAX) + 1
    long = torch.randn(1, 1, side, 4).bfloat16().requires_grad_()
    assert not explicit(long, long, long)


def test_probsparse_bf16_training_takes_the_explicit_form_with_the_fused_kernels_values():
    torch.manual_seed(1)
    kernel = build_attention("probsparse", factor=2, sampling="shared").train()
    q, k, v = (torch.randn(2, 2, 40, 8).bfloat16().requires_grad_() for _ in range(3))
    for causal in (False, True):
        torch.manual_seed(2)
        out = kernel(q, k, v, causal=causal)  # explicit: gradients recorded
        torch.manual_seed(2)
        with torch.no_grad():
            fused = kernel(q, k, v, causal=causal)  # the same sampled keys, the fused kernel
        torch.testing.assert_close(out.detach(), fused, rtol=0, atol=2e-2)
        out.float().square().sum().backward()
        assert all(torch.isfinite(t.grad).all() for t in (q, k, v))
