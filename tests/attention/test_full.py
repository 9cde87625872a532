"""Softmax attention's explicit form and its float32 upcast of narrow heads (bf16 CPU training at small sizes) against a
float64 dense reference and the fused kernel."""

import math

import pytest
import torch

from sparsecast.attention import build_attention
from sparsecast.attention import full
from sparsecast.attention.full import (EXPLICIT_MAX, EXPLICIT_MAX_KEYS, EXPLICIT_MIN_HEAD_DIM, explicit,
                                       softmax_attention, upcast)


@pytest.fixture
def no_fused(monkeypatch):
    """The fused kernel refused inside attention/full.py: a test that passes took the explicit form."""
    def refuse(*args, **kwargs):
        raise AssertionError("the fused kernel ran")
    monkeypatch.setattr(full.F, "scaled_dot_product_attention", refuse)


def _reference(q, k, v, visible, dtype=torch.float64):
    q, k, v = (t.to(dtype) for t in (q, k, v))
    scores = (q @ k.transpose(-2, -1)) * (1 / math.sqrt(q.shape[-1]))
    return torch.softmax(scores.masked_fill(~visible, float("-inf")), -1) @ v


def _masks(mask: str, B: int, H: int, L: int, S: int):
    """The case ``mask`` ("none", "causal", "visible", "both") as ``softmax_attention`` takes it, the bool mask
    given (or None) and ``causal``, and as the reference takes it, the keys each query sees."""
    visible = torch.ones(L, S, dtype=torch.bool)
    given = None
    if mask in ("visible", "both"):
        given = torch.rand(B, H, L, S) < 0.6
        given[..., 0] = True  # every query sees a key
        visible = given
    causal = mask in ("causal", "both")
    if causal:
        visible = visible & torch.ones(L, S, dtype=torch.bool).tril()  # both rules hold at once
    return given, visible, causal


def _assert_float64_values_and_gradients(out, q, k, v, visible):
    """``out`` (bf16) and the gradients it gives q, k, v against the float64 reference, within bf16 rounding."""
    grad = torch.randn_like(out)
    out.backward(grad)
    leaves = [t.detach().double().requires_grad_() for t in (q, k, v)]
    ref = _reference(*leaves, visible)
    ref.backward(grad.double())
    torch.testing.assert_close(out.double(), ref, rtol=0, atol=2e-2)  # the output's bf16 rounding
    for got, want in zip((q, k, v), leaves):
        torch.testing.assert_close(got.grad.double(), want.grad, rtol=0, atol=3e-2)


@pytest.mark.parametrize("mask", ["none", "causal", "visible", "both"])
def test_explicit_form_matches_float64_in_values_and_gradients(mask, no_fused):
    torch.manual_seed(0)
    B, H, L, S, D = 2, 3, 11, 24, EXPLICIT_MIN_HEAD_DIM
    q, k, v = (torch.randn(B, H, n, D).bfloat16().requires_grad_() for n in (L, S, S))
    given, visible, causal = _masks(mask, B, H, L, S)
    assert explicit(q, k, v)
    with torch.autocast("cpu", torch.bfloat16):  # switched off inside: the products are float32
        out = softmax_attention(q, k, v, causal=causal, visible=given)
    assert out.dtype == torch.bfloat16
    # float32 throughout, rounded once at the end: bit for bit (bf16 products under autocast would not be)
    torch.testing.assert_close(out, _reference(q, k, v, visible, torch.float32).bfloat16(), rtol=0, atol=0)
    _assert_float64_values_and_gradients(out, q, k, v, visible)


@pytest.mark.parametrize("head_dim", [EXPLICIT_MIN_HEAD_DIM, 8])  # the explicit form, the float32 fused kernel
def test_a_query_that_sees_no_key_gets_zeros(head_dim):
    q, k, v = (torch.randn(1, 1, 4, head_dim).bfloat16().requires_grad_() for _ in range(3))
    assert explicit(q, k, v) or upcast(q, k, v)
    visible = torch.ones(4, 4, dtype=torch.bool)
    visible[2] = False
    out = softmax_attention(q, k, v, visible=visible)
    assert (out[0, 0, 2] == 0).all() and torch.isfinite(out).all()
    out.float().sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


def test_explicit_form_only_in_low_precision_training_at_small_sizes():
    D = EXPLICIT_MIN_HEAD_DIM
    q, k, v = (torch.randn(2, 2, 8, D).bfloat16().requires_grad_() for _ in range(3))
    assert explicit(q, k, v) and not upcast(q, k, v)
    with torch.no_grad():
        assert not explicit(q, k, v) and not upcast(q, k, v)  # evaluation keeps the fused kernel
    assert not explicit(*(t.detach() for t in (q, k, v)))
    assert not explicit(*(t.float() for t in (q, k, v)))
    side = math.isqrt(EXPLICIT_MAX) + 1
    long = torch.randn(1, 1, side, D).bfloat16().requires_grad_()
    assert not explicit(long, long, long)
    few = torch.randn(1, 1, EXPLICIT_MAX // EXPLICIT_MAX_KEYS, D).bfloat16().requires_grad_()
    keys = torch.randn(1, 1, EXPLICIT_MAX_KEYS, D).bfloat16().requires_grad_()
    assert explicit(few, keys, keys)  # at both limits
    assert not explicit(few[:, :, :1], *(torch.cat([keys, keys[:, :, :1]], 2),) * 2)  # one key more
    assert not explicit(torch.cat([few, few[:, :, :1]], 2), keys, keys)  # one query more


def test_narrow_heads_upcast_to_the_fused_kernel_in_the_same_cases():
    q, k, v = (torch.randn(2, 2, 8, EXPLICIT_MIN_HEAD_DIM - 1).bfloat16().requires_grad_() for _ in range(3))
    assert upcast(q, k, v) and not explicit(q, k, v)
    with torch.no_grad():
        assert not upcast(q, k, v)
    assert not upcast(*(t.float() for t in (q, k, v)))
    long = torch.randn(1, 1, math.isqrt(EXPLICIT_MAX) + 1, 4).bfloat16().requires_grad_()
    assert not upcast(long, long, long)  # the fused kernel in bf16, as for wide heads


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("mask", ["none", "causal", "visible", "both"])
def test_narrow_heads_call_the_fused_kernel_on_float32_with_the_reference_values(mask, dtype, monkeypatch):
    torch.manual_seed(0)
    B, H, L, S, D = 2, 3, 11, 24, 8
    q, k, v = (torch.randn(B, H, n, D).to(dtype).requires_grad_() for n in (L, S, S))
    given, visible, causal = _masks(mask, B, H, L, S)
    seen, fused = [], full.F.scaled_dot_product_attention

    def record(*args, **kwargs):
        seen.append(tuple(t.dtype for t in args[:3]))
        return fused(*args, **kwargs)
    monkeypatch.setattr(full.F, "scaled_dot_product_attention", record)
    with torch.autocast("cpu", torch.bfloat16):  # switched off inside
        out = softmax_attention(q, k, v, causal=causal, visible=given)
    assert seen == [(torch.float32,) * 3] and out.dtype == dtype
    # the float32 kernel's result rounded once: bit for bit (bf16 products under autocast would not be)
    with torch.no_grad():
        alone = fused(q.float(), k.float(), v.float(), attn_mask=given, is_causal=causal).to(dtype)
    torch.testing.assert_close(out.detach(), alone, rtol=0, atol=0)
    _assert_float64_values_and_gradients(out, q, k, v, visible)


@pytest.mark.parametrize("causal", [False, True])
def test_probsparse_bf16_training_takes_the_explicit_form_with_the_fused_kernels_values(causal, monkeypatch):
    kernel = build_attention("probsparse", factor=2, sampling="shared").train()
    q, k, v = (torch.randn(2, 2, 40, EXPLICIT_MIN_HEAD_DIM).bfloat16().requires_grad_() for _ in range(3))
    torch.manual_seed(2)
    with torch.no_grad():
        fused = kernel(q, k, v, causal=causal)  # the fused kernel, before it is refused below
    monkeypatch.setattr(full.F, "scaled_dot_product_attention", lambda *a, **kw: 1 / 0)
    torch.manual_seed(2)
    out = kernel(q, k, v, causal=causal)  # the same sampled keys, the explicit form
    torch.testing.assert_close(out.detach(), fused, rtol=0, atol=2e-2)
    out.float().square().sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


@pytest.mark.parametrize("head_dim", [8, EXPLICIT_MIN_HEAD_DIM])
def test_compiled_training_takes_the_same_route_as_eager(head_dim, fresh_dynamo):
    """Under torch.compile, bf16 CPU training keeps the upcast and explicit routes (plain tensor ops, no loops to bake
    in): the fused kernel's own bf16 backward, which they avoid, made a compiled PatchTST-style step 2.7x slower
    than eager. The compiled graph runs the same ops, so values and gradients agree bit for bit (aot_eager: the
    graph that ``--compile``'s inductor would compile, without the C++ build)."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 2, 12, head_dim, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    results = []
    for fn in (softmax_attention, torch.compile(softmax_attention, backend="aot_eager")):
        out = fn(q, k, v, causal=True)
        results.append((out, *torch.autograd.grad(out.float().square().sum(), (q, k, v))))
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
