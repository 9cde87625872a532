"""The FlexAttention path of the strided and fixed kernels (the GPU's) equals dense masked attention.

PyTorch's FlexAttention has no backward pass on the CPU: here the rules are checked in values (eager and compiled);
the gradients where a CUDA device is."""

import pytest
import torch

from sparsecast.attention import build_attention, dense_attention, fixed_mask, strided_mask
from sparsecast.attention import flex
from sparsecast.attention.flex import RULES, block_mask, flex_attend
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


@pytest.mark.parametrize("rule", [("strided", 16, True, "union"), ("strided", 100, True, "local"),
                                  ("strided", 300, False, "local"), ("strided", 16, False, "stride"),
                                  ("fixed", 16, 4, 16, True, "union"), ("fixed", 32, 2, 31, False, "summary")])
@pytest.mark.parametrize("L", [130, 1000])
@pytest.mark.parametrize("chunk", [flex.CHUNK, 3 * 8 * flex.TILE ** 2, 1])
def test_block_mask_equals_create_block_mask(rule, L, chunk, monkeypatch):
    """Built a band of tiles at a time (all at once; bands of 3 tile rows, the last one shorter at L = 1000; one tile
    row at a time), the tiles are create_block_mask's: the same partial and full tiles (the two-sided local rule at
    stride 300 has full ones) per query tile and per key tile, in the same order."""
    from torch.nn.attention.flex_attention import create_block_mask

    monkeypatch.setattr(flex, "CHUNK", chunk)
    monkeypatch.setattr(flex, "_MASKS", {})
    ours, ref = block_mask(rule, L, "cpu"), create_block_mask(RULES[rule[0]](*rule[1:]), None, None, L, L, "cpu")
    assert torch.equal(ours.to_dense(), ref.to_dense())
    for count, index in (("kv_num_blocks", "kv_indices"), ("full_kv_num_blocks", "full_kv_indices"),
                         ("q_num_blocks", "q_indices"), ("full_q_num_blocks", "full_q_indices")):
        n = getattr(ours, count)
        assert torch.equal(n, getattr(ref, count))
        for row in range(n.shape[-1]):
            k = int(n[0, 0, row])
            assert torch.equal(getattr(ours, index)[0, 0, row, :k], getattr(ref, index)[0, 0, row, :k])


def test_full_tiles_are_found():
    mask = block_mask(("strided", 300, False, "local"), 1000, "cpu")
    assert int(mask.full_kv_num_blocks.sum()) > 0 and int(mask.kv_num_blocks.sum()) > 0


def test_a_graph_compiled_after_an_eager_call_reads_the_mask_and_stays_whole(monkeypatch):
    """As the trainer compiles (one eager forward first, ``training.trainer.compile_warm``): the mask is built by the
    eager call, and the compiled function is one graph, traced once, on every later call (no break, no rebuild:
    a handful of nodes)."""
    monkeypatch.setattr(flex, "_MASKS", {})
    graphs = []

    def count(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    def f(q):
        return flex_attend(q, q, q, ("strided", 16, True, "union"), compiled=False).sin() + 1

    q = torch.randn(1, 2, 256, 8)
    f(q)  # eager
    built = len(flex._MASKS)
    torch._dynamo.reset()
    g = torch.compile(f, backend=count)
    for _ in range(3):
        torch.testing.assert_close(g(q), f(q))
    assert len(graphs) == 1 and len(graphs[0].graph.nodes) < 30 and len(flex._MASKS) == built == 1
    torch._dynamo.reset()


def test_a_mask_first_built_for_a_prediction_serves_training():
    """Built outside inference mode, so autograd may save the mask's tensors later."""
    flex._MASKS.pop((("strided", 8, True, "union"), 64, "cpu"), None)
    with torch.inference_mode():
        mask = block_mask(("strided", 8, True, "union"), 64, "cpu")
    assert not mask.kv_num_blocks.is_inference() and not mask.kv_indices.is_inference()


def test_auto_is_flex_on_a_gpu_and_fused_on_the_cpu():
    q = torch.zeros(1, 1, 4, 2)
    assert resolve_backend("auto", q) == "fused"
    assert resolve_backend("auto", q.to("meta")) == "flex"
    assert resolve_backend("matmul", q.to("meta")) == "matmul"
    with pytest.raises(ValueError, match="whole pattern"):
        attend_parts(None, [], q, q, q, "flex")


def _compiled_case(device, dtype, tol):
    """Both GPU forms, the pattern in parts ("flex") and as one mask ("flex_whole"), at a length that pads (250)."""
    B, H, D = 2, 2, 16
    for L in (256, 250):
        for name, params, mask in (("strided", {"stride": 16}, strided_mask(L, 16, True)),
                                   ("fixed", {"stride": 16, "c": 4}, fixed_mask(L, 16, 4, True))):
            for backend in ("flex", "flex_whole"):
                qkv = _qkv(B, H, L, D, dtype, device)
                out = build_attention(name, backend=backend, **params)(*qkv, causal=True)
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


def _dense_rule_attention(q, k, v, rule, compiled=True, return_lse=False):
    """``flex_attend`` written densely (the rule evaluated on the whole grid): differentiable on the CPU, so that
    the parts' layouts and their combination are checked in gradients too."""
    mask_mod = RULES[rule[0]](*rule[1:])
    zero = torch.zeros((), dtype=torch.long)
    seen = mask_mod(zero, zero, torch.arange(q.shape[2])[:, None], torch.arange(k.shape[2])[None, :])
    s = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).masked_fill(~seen, float("-inf"))
    lse = torch.logsumexp(s, dim=-1)  # (B, H, L): -inf where a query sees no key
    o = torch.softmax(s.masked_fill(~seen.any(-1, keepdim=True), 0.0), dim=-1).masked_fill(~seen, 0.0) @ v
    return (o, lse.to(torch.promote_types(q.dtype, torch.float32))) if return_lse else o


PATTERN_CASES = [(1, 2, 64, 4, 8), (2, 1, 33, 8, 5), (1, 1, 130, 4, 16), (1, 1, 260, 4, 16)]  # 33, 130: padding


@pytest.mark.parametrize("B,H,L,D,l", PATTERN_CASES)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("name,part,params", [("strided", "union", ()), ("strided", "stride", ()),
                                              ("strided", "local", ()), ("fixed", "union", (2, 0)),
                                              ("fixed", "summary", (2, 0)), ("fixed", "union", (1, 1)),
                                              ("fixed", "summary", (3, 2)), ("fixed", "block", (1, 0))])
def test_pattern_in_parts_equals_dense(B, H, L, D, l, causal, name, part, params, monkeypatch):
    """``flex_pattern`` (the patterns as parts in dense layouts: band and columns, own block and gathered summary
    keys, combined through log-sum-exps) equals the dense masked reference: in values with FlexAttention itself
    (eager), and in values and gradients with a dense stand-in for its kernel (FlexAttention has no CPU backward)."""
    if name == "strided":
        rule, mask = ("strided", l, causal, part), strided_mask(L, l, causal, part)
    else:
        c, offset = params
        rule, mask = ("fixed", l, c, l - offset, causal, part), fixed_mask(L, l, c, causal, part, offset=offset)
    qkv = _qkv(B, H, L, D)
    ref = dense_attention(*qkv, mask)
    _check(flex.flex_pattern(*qkv, rule, compiled=False), ref, qkv, EXACT)
    monkeypatch.setattr(flex, "flex_attend", _dense_rule_attention)
    qkv = [x.requires_grad_() for x in qkv]
    _check(flex.flex_pattern(*qkv, rule, compiled=False), dense_attention(*qkv, mask), qkv, EXACT)  # the parts


@pytest.mark.parametrize("rule,L,S", [(("summary", 16, 4, 16, 1000, True, True), 1000, 252),
                                      (("summary", 32, 2, 31, 1000, False, False), 1000, 64),
                                      (("columns", True, 2), 300, 300)])
def test_block_mask_of_unequal_lengths_equals_create_block_mask(rule, L, S, monkeypatch):
    from torch.nn.attention.flex_attention import create_block_mask

    monkeypatch.setattr(flex, "CHUNK", 3 * 2 * flex.TILE ** 2)  # bands of three query tiles
    monkeypatch.setattr(flex, "_MASKS", {})
    ours = block_mask(rule, L, "cpu", S)
    ref = create_block_mask(RULES[rule[0]](*rule[1:]), None, None, L, S, "cpu")
    assert torch.equal(ours.to_dense(), ref.to_dense())
    for count in ("kv_num_blocks", "full_kv_num_blocks"):
        assert torch.equal(getattr(ours, count), getattr(ref, count))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU kernel is checked where one is")
def test_compiled_parts_two_sided_and_alone_equal_dense_on_cuda():
    """Beyond the causal unions above: the two-sided unions (columns both ways; summary keys of later blocks) and a
    summary head alone with an offset, compiled on CUDA, values and gradients."""
    L, tol = 256, {"rtol": 1e-2, "atol": 1e-2}
    for rule, mask in ((("strided", 16, False, "union"), strided_mask(L, 16, False)),
                       (("fixed", 16, 2, 15, False, "union"), fixed_mask(L, 16, 2, False, offset=1)),
                       (("fixed", 16, 2, 15, True, "summary"), fixed_mask(L, 16, 2, True, "summary", offset=1))):
        qkv = _qkv(2, 2, L, 16, torch.float32, "cuda")
        ref = dense_attention(*(x.double() for x in qkv), mask.to("cuda")).float()
        _check(flex.flex_pattern(*qkv, rule), ref, qkv, tol)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU kernel is checked where one is")
@pytest.mark.parametrize("rule", [("strided", 32, True, "union"), ("fixed", 32, 4, 32, True, "union")])
def test_compiled_parts_in_bf16_match_dense_within_bf16_rounding(rule):
    """The benchmark's setting (bf16, B=1: the strided columns are views, the parts combined in bf16) against dense
    masked attention in float64 on the same bf16 inputs."""
    L = 1024
    mask = strided_mask(L, 32, True) if rule[0] == "strided" else fixed_mask(L, 32, 4, True)
    qkv = _qkv(1, 4, L, 64, torch.bfloat16, "cuda")
    ref = dense_attention(*(x.double() for x in qkv), mask.to("cuda")).to(torch.bfloat16)
    _check(flex.flex_pattern(*qkv, rule), ref, qkv, {"rtol": 5e-2, "atol": 5e-2})
