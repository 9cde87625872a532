"""The FlexAttention path of the strided and fixed kernels (the GPU's) equals dense masked attention.

PyTorch's FlexAttention has no backward pass on the CPU: here the rules are checked in values (eager and compiled);
the gradients where a CUDA device is."""

import pytest
import torch

from sparsecast.attention import build_attention, dense_attention, fixed_mask, strided_mask
from sparsecast.attention.flex import flex_attend
from sparsecast.attention.parts import attend_parts, resolve_backend

CASES = [(1, 2, 16, 4, 4), (2, 1, 33, 8, 5), (1, 1, 130, 4, 16)]  # (B, H, L, D, l); 130: past one 128-tile


def _qkv(B, H, L, D, dtype=torch.float64, device="cpu"):
    return [torch.randn(B, H, L, D, dtype=dtype, device=device, requires_grad=device != "cpu") for _ in range(3)]


def _check(out, ref, qkv, tol):
    torch.testing.assert_close(out, ref, **tol)
    if not out.requires_grad:
        return
    g = torch.randn_like(out)
    for a, b in zip(torch.autograd.grad(out, qkv, g), torch.autograd.grad(ref, qkv, g)):
        torch.testing.assert_close(a, b, **tol)


EXACT = {"rtol": 1e-10, "atol": 1e-12}
pytestmark = pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")


@pytest.mark.parametrize("B,H,L,D,l", CASES)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("part", ["union", "local", "stride"])
def test_strided_rule_equals_dense(B, H, L, D, l, causal, part):
    qkv = _qkv(B, H, L, D)
    _check(flex_attend(*qkv, ("strided", l, causal, part), compiled=False),
           dense_attention(*qkv, strided_mask(L, l, causal, part)), qkv, EXACT)


@pytest.mark.parametrize("B,H,L,D,l", CASES)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("part", ["union", "block", "summary"])
@pytest.mark.parametrize("c,offset", [(1, 0), (2, 1)])
def test_fixed_rule_equals_dense(B, H, L, D, l, causal, part, c, offset):
    """Offsets included; the causal summary head leaves the rows before its first summary place empty: zeros."""
    qkv = _qkv(B, H, L, D)
    _check(flex_attend(*qkv, ("fixed", l, c, l - offset, causal, part), compiled=False),
           dense_attention(*qkv, fixed_mask(L, l, c, causal, part, offset=offset)), qkv, EXACT)


def test_auto_is_flex_on_a_gpu_and_fused_on_the_cpu():
    q = torch.zeros(1, 1, 4, 2)
    assert resolve_backend("auto", q) == "fused"
    assert resolve_backend("auto", q.to("meta")) == "flex"
    assert resolve_backend("matmul", q.to("meta")) == "matmul"
    with pytest.raises(ValueError, match="whole pattern"):
        attend_parts(None, [], q, q, q, "flex")


def _compiled_case(device, dtype, tol):
    B, H, L, D = 2, 2, 256, 16
    for name, params, mask in (("strided", {"stride": 16}, strided_mask(L, 16, True)),
                               ("fixed", {"stride": 16, "c": 4}, fixed_mask(L, 16, 4, True))):
        qkv = _qkv(B, H, L, D, dtype, device)
        out = build_attention(name, backend="flex", **params)(*qkv, causal=True)
        ref = dense_attention(*(x.double() for x in qkv), mask.to(device)).to(dtype)
        _check(out, ref, qkv, tol)


@pytest.mark.slow
def test_compiled_flex_kernels_equal_dense_on_the_cpu():
    """The fused kernel torch.compile generates (C++ on the CPU: the same rules and block masks as on a GPU)."""
    _compiled_case("cpu", torch.float32, {"rtol": 1e-4, "atol": 1e-5})


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU kernel is checked where one is")
def test_compiled_flex_kernels_equal_dense_on_cuda():
    _compiled_case("cuda", torch.float32, {"rtol": 1e-2, "atol": 1e-2})  # TF32 tiles
