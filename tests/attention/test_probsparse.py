"""ProbSparse: active rows are exact attention, lazy rows are uniform attention; sampling is seedable."""

import pytest
import torch

from sparsecast.attention import ProbSparseAttention, causal_mask, dense_attention, uniform_output
from sparsecast.attention.probsparse import prefix_top, sample_size


def _active_mask(kernel, B, H, L):
    active = kernel.last_active
    mask = torch.zeros(B, H, L + 1, dtype=torch.bool)
    return mask.scatter(2, torch.where(active < 0, L, active), True)[..., :L]  # -1 pads go to the dropped column


@pytest.mark.parametrize("sampling", ["per_query", "shared"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("L,S", [(100, 100), (60, 90)])
def test_active_rows_exact_and_lazy_rows_uniform(sampling, causal, L, S):
    B, H, D = 2, 3, 8
    q = torch.randn(B, H, L, D, dtype=torch.float64)
    k, v = (torch.randn(B, H, S, D, dtype=torch.float64) for _ in range(2))
    kernel = ProbSparseAttention(factor=2, sampling=sampling).eval()
    out = kernel(q, k, v, causal=causal)
    active = _active_mask(kernel, B, H, L)
    u = sample_size(2, L)
    if causal:
        assert (active.sum(-1) >= u).all()
    else:
        assert (active.sum(-1) == u).all()
    full = dense_attention(q, k, v, causal_mask(L, S) if causal else None)
    lazy = uniform_output(v, L, causal)
    torch.testing.assert_close(out[active], full[active])
    torch.testing.assert_close(out[~active], lazy[~active])


def test_uniform_output_is_the_mean_not_the_sum():
    v = torch.arange(1.0, 5.0).view(1, 1, 4, 1)
    assert uniform_output(v, 4, causal=True).flatten().tolist() == [1.0, 1.5, 2.0, 2.5]
    assert uniform_output(v, 2, causal=False).flatten().tolist() == [2.5, 2.5]
    # the official code's masked decoder: the sum; unmasked it too takes the mean
    assert uniform_output(v, 4, causal=True, cumulative_sum=True).flatten().tolist() == [1.0, 3.0, 6.0, 10.0]
    assert uniform_output(v, 2, causal=False, cumulative_sum=True).flatten().tolist() == [2.5, 2.5]


@pytest.mark.parametrize("selection", ["global", "prefix"])
def test_lazy_cumsum_gives_causal_lazy_rows_the_sum_and_leaves_the_rest(selection):
    B, H, L, D = 2, 3, 60, 8
    q, k, v = (torch.randn(B, H, L, D, dtype=torch.float64) for _ in range(3))
    mean = ProbSparseAttention(factor=2, selection=selection).eval()
    summed = ProbSparseAttention(factor=2, selection=selection, lazy="cumsum").eval()
    out, out_mean = summed(q, k, v, causal=True), mean(q, k, v, causal=True)
    active = _active_mask(summed, B, H, L)
    assert torch.equal(active, _active_mask(mean, B, H, L))  # the same rows attend
    assert (~active).any()
    torch.testing.assert_close(out[active], out_mean[active], rtol=0, atol=0)
    torch.testing.assert_close(out[~active], v.cumsum(2)[~active])
    torch.testing.assert_close(summed(q, k, v), mean(q, k, v), rtol=0, atol=0)  # no mask: the mean for both


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("L,S", [(1, 1), (1, 7), (7, 1), (5, 5), (12, 12)])
def test_small_inputs_equal_full_attention(causal, L, S):
    """u >= L for these sizes (factor 5), so the kernel is exactly full attention."""
    q = torch.randn(1, 2, L, 4, dtype=torch.float64)
    k, v = (torch.randn(1, 2, S, 4, dtype=torch.float64) for _ in range(2))
    out = ProbSparseAttention(factor=5)(q, k, v, causal=causal)
    torch.testing.assert_close(out, dense_attention(q, k, v, causal_mask(L, S) if causal else None))


def test_prefix_top_matches_bruteforce():
    m = torch.randn(2, 3, 257)
    brute = torch.stack([(m[..., : i + 1] > m[..., i: i + 1]).sum(-1) < 10 for i in range(257)], dim=-1)
    assert torch.equal(prefix_top(m, 10, chunk=16), brute)


@pytest.mark.parametrize("sampling", ["per_query", "shared"])
def test_eval_deterministic_and_training_seedable(sampling):
    q, k, v = (torch.randn(2, 2, 200, 8) for _ in range(3))
    kernel = ProbSparseAttention(factor=1, sampling=sampling).eval()
    torch.testing.assert_close(kernel(q, k, v), kernel(q, k, v), rtol=0, atol=0)
    outs = [ProbSparseAttention(factor=1, sampling=sampling, seed=3).train()(q, k, v) for _ in range(2)]
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)
    gen_outs = [ProbSparseAttention(factor=1, sampling=sampling, generator=torch.Generator().manual_seed(9))(q, k, v)
                for _ in range(2)]
    torch.testing.assert_close(gen_outs[0], gen_outs[1], rtol=0, atol=0)
    trained = ProbSparseAttention(factor=1, sampling=sampling, seed=3).train()
    first, second = trained(q, k, v), trained(q, k, v)
    assert not torch.equal(first, second), "training-mode sampling should move on between calls"


@pytest.mark.parametrize("causal", [False, True])
def test_gradcheck(causal):
    q, k, v = (torch.randn(1, 2, 40, 3, dtype=torch.float64, requires_grad=True) for _ in range(3))
    kernel = ProbSparseAttention(factor=1).eval()
    assert torch.autograd.gradcheck(lambda q, k, v: kernel(q, k, v, causal=causal), (q, k, v))


def test_rejects_bad_settings():
    with pytest.raises(ValueError, match="factor"):
        ProbSparseAttention(factor=0)
    with pytest.raises(ValueError, match="sampling"):
        ProbSparseAttention(sampling="nope")
    with pytest.raises(ValueError, match="lazy"):
        ProbSparseAttention(lazy="sum")
