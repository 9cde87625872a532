"""The feed-forward block computed in row chunks equals the plain block: values, gradients and dropout masks."""

import pytest
import torch

import sparsecast.nn.feed_forward as feed_forward
from sparsecast.nn import FeedForward


def _run(ff: FeedForward, x: torch.Tensor, chunked: bool, seed: int = 3):
    """Output and gradients (input, then parameters) of a squared-sum loss, the path forced."""
    ff.chunked = lambda _: chunked  # instance attribute: forces the path for this call
    try:
        torch.manual_seed(seed)  # the same dropout masks on both paths
        out = ff(x)
        grads = torch.autograd.grad(out.square().sum(), [x, *ff.parameters()])
    finally:
        del ff.chunked
    return out, grads


@pytest.mark.parametrize("activation", ["gelu", "relu"])
@pytest.mark.parametrize("training", [True, False])
def test_chunks_equal_the_plain_block(monkeypatch, activation, training):
    monkeypatch.setattr(feed_forward, "CHUNK_ELEMENTS", 32 * 50)  # 50 rows a chunk: 21 x 13 rows need six
    ff = FeedForward(8, 32, dropout=0.3, activation=activation).double().train(training)
    x = torch.randn(21, 13, 8, dtype=torch.float64).transpose(0, 1).requires_grad_()  # non-contiguous (13, 21, 8)
    assert ff.chunked(x)
    out, grads = _run(ff, x, chunked=True)
    ref, ref_grads = _run(ff, x, chunked=False)
    assert out.shape == (13, 21, 8)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)  # up to the rounding of the matrix multiplies
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-12, atol=1e-12)
    if training:
        assert (out == 0).any()  # dropout after fc2 too
        assert _run(ff, x, chunked=True, seed=4)[0].ne(out).any()  # another seed, other masks


def test_wide_blocks_autocast_and_export_take_the_plain_path():
    x = torch.randn(2, 5, 16)
    assert FeedForward(16, 64, 0.1, "gelu").chunked(x)
    assert not FeedForward(feed_forward.CHUNK_MAX_WIDTH * 2, 64, 0.1, "gelu").chunked(torch.randn(2, 5, 128))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not FeedForward(16, 64, 0.1, "gelu").chunked(x)
        assert FeedForward(16, 64, 0.1, "gelu")(x).shape == (2, 5, 16)
    ff = FeedForward(16, 64, 0.1, "gelu").eval()
    traced = torch.jit.trace(ff, x)  # a graph must not bake in the chunk loop's row counts
    wider = torch.randn(7, 5, 16)
    torch.testing.assert_close(traced(wider), ff(wider))


def test_second_derivative_raises_rather_than_being_wrong():
    ff = FeedForward(8, 32, dropout=0.0, activation="gelu").double()
    x = torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
    (gx,) = torch.autograd.grad(ff(x).square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        gx.sum().backward()


def test_unknown_activation_is_one_clear_error():
    with pytest.raises(ValueError, match="activation"):
        FeedForward(8, 32, 0.1, "swish")
