"""Masked ProbSparse query selection, probed with one-hot values: the paper's global top-u and the causal prefix."""

import pytest
import torch

from sparsecast.attention import build_attention
from sparsecast.attention.probsparse import sample_size


def _probe(L: int, selection: str, seed: int = 0):
    """Outputs with one-hot values (v = I), so row i of the output is row i's attention weights over keys."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(1, 2, L, L, generator=g, dtype=torch.float64) * 2  # head dim L, so one-hot values fit
    k = torch.randn(1, 2, L, L, generator=g, dtype=torch.float64)
    v = torch.eye(L, dtype=torch.float64).expand(1, 2, L, L)
    kernel = build_attention("probsparse", factor=5, selection=selection).eval()
    out = kernel(q, k, v, causal=True)  # (1, 2, L, L)
    mask = torch.ones(L, L, dtype=torch.bool).tril()
    full = (q @ k.transpose(-1, -2) / L ** 0.5).masked_fill(~mask, float("-inf")).softmax(-1)  # causal full
    uniform = mask.double() / mask.sum(-1, keepdim=True)  # cumulative mean of one-hot values
    return out, full, uniform, kernel


@pytest.mark.parametrize("L", [72, 96, 200])
def test_global_selection_keeps_exactly_u_rows_exact_and_the_rest_uniform(L):
    out, full, uniform, kernel = _probe(L, "global")
    u = sample_size(5, L)
    for h in range(2):
        active = kernel.last_active[0, h]
        assert len(set(active.tolist())) == u  # exactly u rows, and no padding
        is_active = torch.zeros(L, dtype=torch.bool)
        is_active[active] = True
        torch.testing.assert_close(out[0, h, is_active], full[0, h, is_active], atol=1e-12, rtol=0)
        torch.testing.assert_close(out[0, h, ~is_active], uniform[~is_active], atol=1e-12, rtol=0)


@pytest.mark.parametrize("L", [72, 96, 200])
def test_prefix_selection_keeps_more_rows_and_the_first_u(L):
    out, full, uniform, _ = _probe(L, "prefix")
    u = sample_size(5, L)
    exact = torch.isclose(out[0], full[0], atol=1e-12).all(-1)  # (2, L)
    assert exact[:, :u].all() and (exact.sum(-1) > u).all()


def test_prefix_rows_never_depend_on_later_rows():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 2, 96, 8, generator=g, dtype=torch.float64) for _ in range(3))
    kernel = build_attention("probsparse", factor=5, selection="prefix").eval()
    base = kernel(q, k, v, causal=True)
    for j in (10, 50, 95):
        q2, k2, v2 = q.clone(), k.clone(), v.clone()
        q2[:, :, j:] += 3.0
        k2[:, :, j:] -= 2.0
        v2[:, :, j:] *= 5.0
        torch.testing.assert_close(kernel(q2, k2, v2, causal=True)[:, :, :j], base[:, :, :j])


def test_unknown_selection_is_refused():
    with pytest.raises(ValueError, match="selection must be one of"):
        build_attention("probsparse", selection="top")
