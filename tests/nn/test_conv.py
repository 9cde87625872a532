"""The circular Conv1d as one matrix multiply equals nn.Conv1d with circular padding, and so do the Informer layers
that use it: values and gradients in float64."""

import copy

import pytest
import torch
import torch.nn.functional as F

from sparsecast.models.informer.encoder import DistilLayer
from sparsecast.nn.conv import circular_conv
from sparsecast.nn.embedding import TokenEmbedding


@pytest.mark.parametrize("k,L", [(3, 1), (3, 2), (3, 29), (5, 3), (5, 40), (1, 6)])
def test_circular_conv_equals_conv1d(k, L):
    torch.manual_seed(k * 100 + L)
    conv = torch.nn.Conv1d(6, 9, kernel_size=k, padding=k // 2, padding_mode="circular").double()
    x = torch.randn(3, L, 6, dtype=torch.float64, requires_grad=True)
    want = conv(x.transpose(1, 2)).transpose(1, 2)
    got = circular_conv(x, conv.weight, conv.bias)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    grad = torch.randn_like(want)
    gx, gw, gb = torch.autograd.grad(want, (x, conv.weight, conv.bias), grad)
    torch.testing.assert_close(torch.autograd.grad(got, (x, conv.weight, conv.bias), grad), (gx, gw, gb), rtol=0,
                               atol=1e-12)


def test_even_kernels_are_refused():
    with pytest.raises(ValueError, match="odd"):
        circular_conv(torch.randn(1, 4, 2), torch.randn(3, 2, 2))


def test_informer_layers_equal_their_conv1d_form():
    torch.manual_seed(0)
    x = torch.randn(4, 37, 16, dtype=torch.float64)  # odd L: the pool's ceil(L / 2)
    distil = DistilLayer(16).double().train()
    conv1d = copy.deepcopy(distil)  # the layer as nn.Conv1d, BatchNorm1d over (B, E, L) and MaxPool1d compute it
    ref = conv1d.pool(F.elu(conv1d.norm(conv1d.conv(x.transpose(1, 2))))).transpose(1, 2)
    torch.testing.assert_close(distil(x), ref, rtol=0, atol=1e-12)
    for name in ("running_mean", "running_var"):  # BatchNorm over (B x L, E) rows updates the same statistics
        torch.testing.assert_close(getattr(distil.norm, name), getattr(conv1d.norm, name), rtol=0, atol=1e-12)
    distil.eval()
    ref = distil.pool(F.elu(distil.norm(distil.conv(x.transpose(1, 2))))).transpose(1, 2)
    with torch.inference_mode():  # evaluation's pool kernel too
        torch.testing.assert_close(distil(x), ref, rtol=0, atol=1e-12)
    token = TokenEmbedding(7, 16).double()
    v = torch.randn(2, 11, 7, dtype=torch.float64)
    torch.testing.assert_close(token(v), token.conv(v.transpose(1, 2)).transpose(1, 2), rtol=0, atol=1e-12)
    assert token(v).is_contiguous() and distil(x).shape == (4, 19, 16)


def test_under_autocast_the_rows_are_cast_once_before_shifting():
    """Casting commutes with roll and concatenation: the bf16 result is the one the linear's own cast gave, and the
    gradient reaches the float32 input in float32."""
    torch.manual_seed(1)
    conv = torch.nn.Conv1d(8, 5, kernel_size=3, padding=1, padding_mode="circular")
    x = torch.randn(2, 11, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = circular_conv(x, conv.weight, conv.bias)
        shifted = torch.cat([x.roll(1 - j, dims=1) for j in range(3)], dim=-1)  # float32, cast by the linear
        want = F.linear(shifted, conv.weight.permute(0, 2, 1).reshape(5, 24), conv.bias)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    (gx,) = torch.autograd.grad(got.float().sum(), x)
    assert gx.dtype == torch.float32 and gx.shape == x.shape
