"""Strided and fixed kernels equal dense masked attention under their pattern, in values and gradients."""

import pytest
import torch

from helpers import torch_threads
from sparsecast.attention import build_attention, dense_attention, fixed_mask, strided_mask

CASES = [  # (B, H, L, D, l)
    (1, 1, 1, 4, 1), (2, 3, 16, 4, 4), (1, 2, 33, 8, 5), (2, 1, 64, 4, 8), (1, 2, 10, 4, 16), (3, 2, 24, 2, 1),
]


def _qkv(B, H, L, D, requires_grad=False):
    return [torch.randn(B, H, L, D, dtype=torch.float64, requires_grad=requires_grad) for _ in range(3)]


def _check(kernel, mask, B, H, L, D, causal):
    q, k, v = _qkv(B, H, L, D, requires_grad=True)
    out = kernel(q, k, v, causal=causal)
    ref = dense_attention(q, k, v, mask)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    g = torch.randn_like(out)
    grads = torch.autograd.grad(out, (q, k, v), g)
    ref_grads = torch.autograd.grad(ref, (q, k, v), g)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("B,H,L,D,l", CASES)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("part", ["union", "local", "stride"])
@pytest.mark.parametrize("backend", ["fused", "matmul"])
def test_strided_equals_dense(B, H, L, D, l, causal, part, backend):
    _check(build_attention("strided", stride=l, part=part, backend=backend), strided_mask(L, l, causal, part), B, H, L, D, causal)


@pytest.mark.parametrize("B,H,L,D,l", CASES)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("part", ["union", "block", "summary"])
@pytest.mark.parametrize("c_frac", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("backend", ["fused", "matmul"])
def test_fixed_equals_dense(B, H, L, D, l, causal, part, c_frac, backend):
    c = max(1, round(c_frac * l))
    _check(build_attention("fixed", stride=l, c=c, part=part, backend=backend), fixed_mask(L, l, c, causal, part), B, H, L, D, causal)


@pytest.mark.parametrize("causal", [True, False])
def test_full_equals_dense(causal):
    from sparsecast.attention import causal_mask
    q, k, v = (torch.randn(2, 3, 12, 8, dtype=torch.float64) for _ in range(3))
    k, v = k[:, :, :9], v[:, :, :9]  # cross attention, L != S
    ref = dense_attention(q, k, v, causal_mask(12, 9) if causal else None)
    torch.testing.assert_close(build_attention("full")(q, k, v, causal=causal), ref)


def test_auto_stride_uses_sqrt_length():
    q, k, v = _qkv(1, 2, 50, 4)
    torch.testing.assert_close(build_attention("strided")(q, k, v, causal=True),
                               dense_attention(q, k, v, strided_mask(50, 8, True)))


@pytest.mark.parametrize("name,params", [("strided", {"stride": 3}), ("fixed", {"stride": 4, "c": 2})])
@pytest.mark.parametrize("backend", ["fused", "matmul"])
def test_gradcheck(name, params, backend):
    q, k, v = _qkv(1, 2, 11, 3, requires_grad=True)
    kernel = build_attention(name, backend=backend, **params)
    assert torch.autograd.gradcheck(lambda q, k, v: kernel(q, k, v, causal=True), (q, k, v))


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("part", ["union", "summary"])
@pytest.mark.parametrize("offset", [1, 2, 4])
@pytest.mark.parametrize("backend", ["fused", "matmul"])
def test_fixed_with_a_summary_offset_equals_dense(causal, part, offset, backend):
    kernel = build_attention("fixed", stride=6, c=2, part=part, backend=backend, offset=offset)
    _check(kernel, fixed_mask(23, 6, 2, causal, part, offset=offset), 2, 2, 23, 4, causal)


def test_distinct_summary_sub_blocks_per_head():
    """Head h of a HeadGroups of offsets 0, c, 2c sees the summary positions [l - (h+1) c, l - h c) of each block."""
    from sparsecast.attention import HeadGroups
    l, c, L = 8, 2, 24
    kernel = HeadGroups([build_attention("fixed", stride=l, c=c, part="summary", offset=h * c) for h in range(3)])
    q, k, v = _qkv(1, 3, L, L)
    v = torch.eye(L, dtype=q.dtype).expand(1, 3, L, L)  # one-hot values: the output shows which keys a row saw
    out = kernel(q, k, v, causal=False)  # (1, 3, L, L)
    for h in range(3):
        seen = (out[0, h] > 0).any(0).nonzero().flatten().tolist()
        assert seen == [j for j in range(L) if l - (h + 1) * c <= j % l < l - h * c], h
        mask = fixed_mask(L, l, c, False, "summary", offset=h * c)
        torch.testing.assert_close(out[0, h], dense_attention(q[:, h:h + 1], k[:, h:h + 1], v[:, h:h + 1], mask)[0, 0])


def test_fixed_offset_must_fit_the_block():
    with pytest.raises(ValueError, match=r"c must be in \[1, stride - offset\]"):
        build_attention("fixed", stride=4, c=2, offset=3)


@pytest.mark.parametrize("slice_elements,slices", [(1, 6), (2 * 36 * 8, 4), (10 ** 9, 1)])  # 1 head, 2 heads, all
@pytest.mark.parametrize("name,params", [("strided", {"stride": 5}), ("fixed", {"stride": 6, "c": 2})])
@pytest.mark.parametrize("causal", [True, False])
def test_fused_backend_cut_into_slices_of_batch_and_heads_equals_dense(monkeypatch, slice_elements, slices, name,
                                                                       params, causal):
    """The fused backend runs a slice of the batch and heads at a time (SLICE_ELEMENTS) and cuts each slice's
    parts again in the backward pass; any slicing gives the dense values and gradients, also for q, k, v that are
    not contiguous (heads split out of (B, L, H, D), as the attention layer does)."""
    from sparsecast.attention import parts
    monkeypatch.setattr(parts, "SLICE_ELEMENTS", slice_elements)
    B, H, L, D = 2, 3, 33, 8
    P = -(-L // params["stride"]) * params["stride"]  # padded length
    assert len(parts._slices(B, H, P, D)) == slices
    kernel = build_attention(name, backend="fused", **params)
    mask = (strided_mask(L, 5, causal) if name == "strided" else fixed_mask(L, 6, 2, causal))
    q, k, v = (torch.randn(B, L, H, D, dtype=torch.float64, requires_grad=True) for _ in range(3))
    qh, kh, vh = (x.transpose(1, 2) for x in (q, k, v))  # (B, H, L, D), not contiguous
    out, ref = kernel(qh, kh, vh, causal=causal), dense_attention(qh, kh, vh, mask)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    g = torch.randn_like(out)
    for a, b in zip(torch.autograd.grad(out, (q, k, v), g), torch.autograd.grad(ref, (q, k, v), g)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,params", [("strided", {"stride": 5}), ("fixed", {"stride": 6, "c": 2})])
def test_fused_backend_computes_bf16_slices_in_float32(monkeypatch, name, params):
    """bf16 q, k, v give bf16 output and gradients: the output is the float32 computation on the same (bf16) values,
    rounded once at the end, whatever the slicing; the gradients are within bf16 rounding of it (the backward pass
    reads the saved bf16 output)."""
    from sparsecast.attention import parts
    monkeypatch.setattr(parts, "SLICE_ELEMENTS", 2 * 36 * 8)  # several slices
    kernel = build_attention(name, backend="fused", **params)
    q, k, v = (torch.randn(2, 3, 33, 8).bfloat16().requires_grad_() for _ in range(3))
    wide = [x.detach().float().requires_grad_() for x in (q, k, v)]
    out, ref = kernel(q, k, v, causal=True), kernel(*wide, causal=True)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, ref.bfloat16(), rtol=0, atol=0)
    g = torch.randn(out.shape).bfloat16()
    for a, b in zip(torch.autograd.grad(out, (q, k, v), g), torch.autograd.grad(ref, wide, g.float())):
        assert a.dtype == torch.bfloat16
        torch.testing.assert_close(a.float(), b, rtol=2e-2, atol=1e-2)


@pytest.mark.parametrize("name,params,L,slice_elements", [
    ("strided", {"stride": 5}, 33, 2 * 36 * 4),  # four slices of up to two heads
    ("fixed", {"stride": 6, "c": 2}, 33, 2 * 36 * 4),
    ("strided", {"stride": 128}, 300, 384 * 4),  # six slices of one head, causal blocks split into rows
    ("fixed", {"stride": 256, "c": 3}, 300, 512 * 4),
])
def test_fused_backend_runs_slices_on_one_thread_workers_bit_for_bit(monkeypatch, name, params, L, slice_elements):
    """With two torch threads and at least two slices per thread, the slices run on two worker threads of one torch
    thread each, forward and backward: values and gradients equal those of one thread bit for bit, and the caller
    keeps its thread count."""
    import threading

    from sparsecast.attention import parts
    monkeypatch.setattr(parts, "SLICE_ELEMENTS", slice_elements)
    ran = set()

    def spy(original):
        def run(*args):
            ran.add((original.__name__, threading.current_thread().name.split("_")[0], torch.get_num_threads()))
            return original(*args)
        return run

    monkeypatch.setattr(parts, "_forward_slice", spy(parts._forward_slice))
    monkeypatch.setattr(parts, "_backward_slice", spy(parts._backward_slice))
    kernel = build_attention(name, backend="fused", **params)
    B, H, D = 2, 3, 4
    P = -(-L // params["stride"]) * params["stride"]
    assert len(parts._slices(B, H, P, D)) >= 4
    q, k, v = (torch.randn(B, H, L, D, requires_grad=True) for _ in range(3))
    g = torch.randn(B, H, L, D)
    results = {}
    for n in (1, 2):
        with torch_threads(n):
            out = kernel(q, k, v, causal=True)
            results[n] = (out, *torch.autograd.grad(out, (q, k, v), g))
            assert torch.get_num_threads() == n
    for a, b in zip(results[1], results[2]):
        assert torch.equal(a, b)
    workers = {(f, n) for f, thread, n in ran if thread == "sparsecast-slices"}
    assert workers == {("_forward_slice", 1), ("_backward_slice", 1)}, ran


def test_fused_backend_on_workers_under_inference_mode(monkeypatch):
    """Evaluation runs under torch.inference_mode: the workers write the output in that mode too."""
    from sparsecast.attention import parts
    monkeypatch.setattr(parts, "SLICE_ELEMENTS", 2 * 36 * 8)
    kernel = build_attention("fixed", stride=6, c=2, backend="fused")
    q, k, v = (torch.randn(2, 3, 33, 8) for _ in range(3))
    with torch_threads(2), torch.inference_mode():
        out = kernel(q, k, v, causal=True)
    torch.testing.assert_close(out, kernel(q, k, v, causal=True), rtol=0, atol=0)


@pytest.mark.parametrize("n", [128, 256, 300, 512])
def test_causal_items_split_into_rows_cover_each_pair_once(n):
    """On one thread a causal item of n >= CAUSAL_SPLIT queries runs as causal squares on its diagonal and the
    rectangles below them: together the calls see each (query, key <= query) pair once and no other."""
    from sparsecast.attention import parts
    with torch_threads(1):
        calls = parts._calls(parts.Piece(0, 1, causal=True), n)
    assert len(calls) > 1
    seen = torch.zeros(n, n, dtype=torch.int64)
    for rows, keys, causal in calls:
        block = torch.ones_like(seen[rows, keys])
        seen[rows, keys] += block.tril() if causal else block
    assert torch.equal(seen, torch.ones(n, n, dtype=torch.int64).tril())


@pytest.mark.parametrize("name,params", [("strided", {"stride": 128}), ("fixed", {"stride": 256, "c": 3})])
def test_fused_backend_with_causal_items_split_into_rows_equals_dense(name, params):
    """The row split of long causal blocks (one thread) gives the dense values and gradients."""
    L = 300
    mask = strided_mask(L, 128, True) if name == "strided" else fixed_mask(L, 256, 3, True)
    q, k, v = _qkv(1, 2, L, 4, requires_grad=True)
    with torch_threads(1):
        out = build_attention(name, backend="fused", **params)(q, k, v, causal=True)
        g = torch.randn_like(out)
        grads = torch.autograd.grad(out, (q, k, v), g)
    ref = dense_attention(q, k, v, mask)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    for a, b in zip(grads, torch.autograd.grad(ref, (q, k, v), g)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_fused_backend_refuses_second_derivatives_instead_of_giving_wrong_ones():
    """The flash-attention backward has no derivative: a gradient penalty through the fused kernels raises."""
    q = torch.randn(1, 1, 8, 4, dtype=torch.float64, requires_grad=True)
    for kernel in (build_attention("strided", stride=4, backend="fused"),
                   build_attention("fixed", stride=4, c=2, backend="fused")):
        out = kernel(q, q, q, causal=True)
        g, = torch.autograd.grad((out ** 2).sum(), q, create_graph=True)
        with pytest.raises(RuntimeError):
            g.pow(2).sum().backward()


@pytest.mark.parametrize("name,part", [("strided", "union"), ("strided", "local"), ("strided", "stride"),
                                       ("fixed", "union"), ("fixed", "block"), ("fixed", "summary")])
def test_causal_kernels_build_only_masks_of_one_block(monkeypatch, name, part):
    """Causal, every piece of the fused backend reads views of q, k, v (or a few gathered summary keys) under a mask
    shared by all its blocks or columns: the additive masks made are at most l x l or nb x nb, not (P x keys), so
    the memory beside q, k, v and the output does not grow with the pattern. Values and gradients equal the dense
    reference, also with tiles cut small (block 0 sees no summary key in the fixed union)."""
    from sparsecast.attention import parts
    made, original = [], parts._tiles

    def tiles(p, queries, dtype, cache):
        made.append(cache)
        return original(p, queries, dtype, cache)

    monkeypatch.setattr(parts, "_tiles", tiles)
    monkeypatch.setattr(parts, "SLICE_ELEMENTS", 2 * 6 * 4)  # tiles of two blocks of one head
    L, l = 35, 6
    nb = -(-L // l)
    kernel = build_attention(name, stride=l, part=part, backend="fused", **({"c": 2} if name == "fixed" else {}))
    mask = strided_mask(L, l, True, part) if name == "strided" else fixed_mask(L, l, 2, True, part)
    q, k, v = (torch.randn(2, 3, L, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    out, ref = kernel(q, k, v, causal=True), dense_attention(q, k, v, mask)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    g = torch.randn_like(out)
    for a, b in zip(torch.autograd.grad(out, (q, k, v), g), torch.autograd.grad(ref, (q, k, v), g)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    biases = [bias for cache in made for bias, _ in cache.values()]
    assert all(b.numel() <= max(l, nb) ** 2 for b in biases), [tuple(b.shape) for b in biases]

def test_pieces_sharing_one_mask_at_different_places_equal_the_matmul_backend(monkeypatch):
    """Two parts whose pieces share one mask object but start at different rows, cut into tiles: each tile takes its
    own rows of the mask (the additive masks are cached per mask and place within its piece)."""
    from sparsecast.attention import parts
    monkeypatch.setattr(parts, "SLICE_ELEMENTS", 2 * 2 * 4)  # tiles of two rows
    torch.manual_seed(0)
    grid = parts.Grid(1, 2, 2, 4)  # P = 8
    mask = torch.rand(4, 5) > 0.4
    mask[:, 0] = True
    first = parts.Part("flat", (parts.Piece(0, 4, mask, keys=(0, 5)),), torch.tensor([0, 1, 2, 3, 4]))
    second = parts.Part("flat", (parts.Piece(2, 6, mask, keys=(0, 5)),), torch.tensor([5, 6, 7, 0, 1]))
    q, k, v = (torch.randn(1, 2, 8, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    fused, ref = (parts.attend_parts(grid, [first, second], q, k, v, b) for b in ("fused", "matmul"))
    torch.testing.assert_close(fused, ref, rtol=1e-10, atol=1e-12)
    g = torch.randn_like(ref)
    for a, b in zip(torch.autograd.grad(fused, (q, k, v), g), torch.autograd.grad(ref, (q, k, v), g)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_pieces_refuse_settings_of_another_layout():
    from sparsecast.attention import parts
    with pytest.raises(ValueError, match="causal piece"):
        parts.Piece(0, 2, torch.ones(1, 2, 2, dtype=torch.bool), causal=True)
    with pytest.raises(ValueError, match="key ranges belong to flat pieces"):
        parts.Part("blocks", (parts.Piece(0, 2, keys=(0, 1)),))
    with pytest.raises(ValueError, match="mask is 2-D"):
        parts.Part("flat", (parts.Piece(0, 2, torch.ones(1, 2, 2, dtype=torch.bool)),))
