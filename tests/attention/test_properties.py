"""Property-based checks of every kernel's shapes, masks and agreement with its dense reference."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sparsecast.attention import (ProbSparseAttention, build_attention, causal_mask, dense_attention, fixed_mask,
                                  strided_mask, uniform_output)

dims = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 40), st.integers(1, 8))  # B, H, L, D


@settings(max_examples=40, deadline=None)
@given(dims=dims, stride=st.integers(1, 12), causal=st.booleans(), part=st.sampled_from(["union", "local", "stride"]))
def test_strided_matches_its_mask(dims, stride, causal, part):
    B, H, L, D = dims
    q, k, v = (torch.randn(B, H, L, D, dtype=torch.float64) for _ in range(3))
    out = build_attention("strided", stride=stride, part=part)(q, k, v, causal=causal)
    assert out.shape == (B, H, L, D)
    torch.testing.assert_close(out, dense_attention(q, k, v, strided_mask(L, stride, causal, part)))


@settings(max_examples=40, deadline=None)
@given(dims=dims, stride=st.integers(1, 12), c_frac=st.floats(0, 1), causal=st.booleans(),
       part=st.sampled_from(["union", "block", "summary"]))
def test_fixed_matches_its_mask(dims, stride, c_frac, causal, part):
    B, H, L, D = dims
    c = max(1, round(c_frac * stride))
    q, k, v = (torch.randn(B, H, L, D, dtype=torch.float64) for _ in range(3))
    out = build_attention("fixed", stride=stride, c=c, part=part)(q, k, v, causal=causal)
    torch.testing.assert_close(out, dense_attention(q, k, v, fixed_mask(L, stride, c, causal, part)))


@settings(max_examples=30, deadline=None)
@given(L=st.integers(1, 200), stride=st.integers(1, 30))
def test_masks_are_structurally_sound(L, stride):
    for part in ("union", "local", "stride"):
        m = strided_mask(L, stride, True, part)
        assert m.diagonal().all() and not m.triu(1).any()  # every query sees itself, never the future
    two_sided = strided_mask(L, stride, False)
    assert torch.equal(two_sided, two_sided.T)  # mirrored pattern is symmetric
    union = strided_mask(L, stride, True)
    assert torch.equal(union, strided_mask(L, stride, True, "local") | strided_mask(L, stride, True, "stride"))


@settings(max_examples=30, deadline=None)
@given(L=st.integers(1, 120), S=st.integers(1, 120), D=st.integers(1, 6), factor=st.integers(1, 4),
       causal=st.booleans(), sampling=st.sampled_from(["per_query", "shared"]))
def test_probsparse_rows_are_exact_or_uniform(L, S, D, factor, causal, sampling):
    q = torch.randn(1, 2, L, D, dtype=torch.float64)
    k, v = (torch.randn(1, 2, S, D, dtype=torch.float64) for _ in range(2))
    out = ProbSparseAttention(factor=factor, sampling=sampling).eval()(q, k, v, causal=causal)
    assert out.shape == (1, 2, L, D)
    full = dense_attention(q, k, v, causal_mask(L, S) if causal else None)
    lazy = uniform_output(v, L, causal)
    exact = (out - full).abs().amax(-1) < 1e-9
    uniform = (out - lazy).abs().amax(-1) < 1e-9
    assert (exact | uniform).all()
