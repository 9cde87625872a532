"""The CPU dropout (dropped positions up to SPARSE_MAX, packed 16-bit random lanes above): right keep rate, unbiased,
exact gradient, reproducible."""

import pytest
import torch
from torch.utils.checkpoint import checkpoint

from sparsecast.nn import Dropout
from sparsecast.nn.dropout import LANES, SPARSE_MAX, drop_positions, dropout, keep_mask, sparse


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_keep_rate_and_scale(p):
    torch.manual_seed(0)
    keep, scale = keep_mask(torch.Size([1000, 1003]), p)  # an element count that is not a multiple of 4
    assert keep.shape == (1000, 1003) and keep.dtype == torch.bool
    rate = keep.double().mean().item()
    assert abs(rate - (1 - p)) < 5 * ((p * (1 - p)) / keep.numel()) ** 0.5 + 1 / LANES  # five standard errors
    assert scale == pytest.approx(1 / (1 - p), rel=1e-4)


def test_lanes_are_independent_of_their_position_in_a_word():
    torch.manual_seed(1)
    keep, _ = keep_mask(torch.Size([400_000]), 0.5)
    by_lane = keep.view(-1, 4).double().mean(0)  # lane 0..3 of each 64-bit word
    torch.testing.assert_close(by_lane, torch.full((4,), 0.5, dtype=torch.float64), atol=0.005, rtol=0)


def test_output_is_masked_scaled_input_and_gradient_matches():
    torch.manual_seed(2)
    x = torch.randn(64, 33, 16, dtype=torch.float64, requires_grad=True)
    out = dropout(x, 0.3)
    kept = out != 0
    assert 0.6 < kept.double().mean().item() < 0.8
    scale = out[kept] / x[kept]
    torch.testing.assert_close(scale, torch.full_like(scale, scale[0].item()))  # one scale for every kept element
    grad = torch.randn_like(x)
    out.backward(grad)
    torch.testing.assert_close(x.grad, torch.where(kept, grad * scale[0], 0.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_one_pass_masked_scale_gives_the_two_pass_values(dtype):
    """The mask and scale applied in one pass give x * keep, then * scale, bit for bit, forward and backward."""
    x = (torch.randn(4096, dtype=torch.float64) * torch.logspace(-3, 3, 4096, dtype=torch.float64)).to(dtype)
    x.requires_grad_()
    grad = torch.randn(4096).to(dtype)
    torch.manual_seed(5)
    out = dropout(x, 0.2)
    out.backward(grad)
    torch.manual_seed(5)
    keep, scale = keep_mask(x.shape, 0.2)
    assert torch.equal(out, x.detach().mul(keep).mul_(scale))
    assert torch.equal(x.grad, grad.mul(keep).mul_(scale))


def test_expectation_is_the_input():
    torch.manual_seed(3)
    x = torch.full((2_000_000,), 2.5)
    assert dropout(x, 0.3).mean().item() == pytest.approx(2.5, rel=3e-3)


def test_eval_and_zero_p_are_identity_and_seed_reproduces():
    x = torch.randn(8, 10)
    layer = Dropout(0.3)
    layer.eval()
    assert layer(x) is x
    assert dropout(x, 0.0) is x
    layer.train()
    torch.manual_seed(4)
    a = layer(x)
    torch.manual_seed(4)
    torch.testing.assert_close(layer(x), a)
    with pytest.raises(ValueError, match="probability"):
        Dropout(1.5)
    assert dropout(x, 1 - 1e-6).abs().sum() == 0  # rounds to 1: the native kernel, everything dropped


def test_recomputation_in_backward_draws_the_same_mask():
    """Activation checkpointing (the Sparse Transformer's recompute) replays the RNG: gradients match a plain run."""
    lin = torch.nn.Linear(12, 12).double()
    x = torch.randn(32, 12, dtype=torch.float64, requires_grad=True)

    def block(h):
        return dropout(torch.tanh(lin(h)), 0.4)

    torch.manual_seed(5)
    block(x).square().sum().backward()
    plain = x.grad.clone()
    x.grad = None
    torch.manual_seed(5)
    checkpoint(block, x, use_reentrant=False).square().sum().backward()
    torch.testing.assert_close(x.grad, plain)


@pytest.mark.parametrize("draws", [None, 3])
def test_dropped_positions_are_independent_bernoulli_draws(draws):
    """Up to SPARSE_MAX only the dropped positions are drawn (geometric gaps): each element is dropped with
    probability exactly p, independently of its neighbour, whether the gaps come in one round or in many."""
    torch.manual_seed(6)
    n, p = 2_000_003, 0.05
    pos = drop_positions(n, p, draws=draws)
    assert pos.dtype == torch.int64 and bool((pos.diff() > 0).all()) and 0 <= pos[0] and pos[-1] < n
    dropped = torch.zeros(n, dtype=torch.bool).index_fill_(0, pos, True)
    se = (p * (1 - p) / n) ** 0.5
    assert abs(dropped.double().mean().item() - p) < 5 * se
    both = (dropped[1:] & dropped[:-1]).double().mean().item()  # neighbours both dropped: p^2 if independent
    assert abs(both - p * p) < 5 * (p * p / n) ** 0.5
    assert drop_positions(0, p).numel() == 0


def test_sparse_dropout_zeroes_its_positions_and_scales_the_rest_exactly():
    assert sparse(0.05) and sparse(SPARSE_MAX) and not sparse(0.3) and not sparse(0.0)
    x = torch.randn(33, 40, 16, dtype=torch.float64, requires_grad=True)
    view = x.transpose(0, 2)  # a non-contiguous input: positions index the logical order of the output
    torch.manual_seed(7)
    out = dropout(view, 0.1)
    torch.manual_seed(7)
    keep, scale = keep_mask(view.shape, 0.1)  # the same stream gives the same elements
    assert scale == 1 / 0.9
    torch.testing.assert_close(out, torch.where(keep, view * scale, 0.0), rtol=0, atol=0)
    grad = torch.randn_like(out)
    out.backward(grad)
    torch.testing.assert_close(x.grad, torch.where(keep, grad * scale, 0.0).transpose(0, 2), rtol=0, atol=0)
    bf16 = dropout(torch.ones(1000, dtype=torch.bfloat16), 0.05)
    kept = torch.tensor(1 / 0.95).bfloat16().item()
    assert bf16.dtype == torch.bfloat16 and set(bf16.unique().tolist()) <= {0.0, kept}


@pytest.mark.parametrize("draws", [None, 3])
def test_every_position_is_dropped_with_probability_p(draws):
    """Over many draws of a short sequence each position, the first and the last included, is dropped at rate p
    (an off-by-one in the gaps would never drop the first position of a round)."""
    torch.manual_seed(8)
    n, p, trials = 20, 0.1, 20_000
    counts = torch.zeros(n)
    for _ in range(trials):
        counts[drop_positions(n, p, draws=draws)] += 1
    se = (p * (1 - p) / trials) ** 0.5
    assert ((counts / trials - p).abs() < 5 * se).all()
