"""The attention layer casts each distinct input once under autocast and gives what per-projection casts gave."""

import torch

from sparsecast.attention import build_attention
from sparsecast.nn.attention_layer import AttentionLayer
from sparsecast.nn.autocast import lowered


def test_lowered_casts_each_distinct_tensor_once_and_only_under_autocast():
    x, memory = torch.randn(2, 5, 8), torch.randn(2, 7, 8)
    assert lowered(x, x, x) == (x, x, x)  # no autocast: the inputs themselves
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q, k, v = lowered(x, memory, memory)
    assert q.dtype == k.dtype == torch.bfloat16 and k is v and q is not k
    torch.testing.assert_close(q, x.bfloat16(), rtol=0, atol=0)


def test_self_and_cross_attention_equal_the_projections_own_casts():
    torch.manual_seed(0)
    layer = AttentionLayer(build_attention("full"), d_model=16, n_heads=2)
    x, memory = torch.randn(3, 6, 16), torch.randn(3, 9, 16)
    for keys in (x, memory):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = layer(x, keys, keys)
            heads = [layer._heads(p(t)) for p, t in ((layer.q_proj, x), (layer.k_proj, keys), (layer.v_proj, keys))]
            out = layer.kernel(*heads)
            want = layer.out_proj(out.transpose(1, 2).reshape(3, 6, 16))
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_a_compiled_layer_under_autocast_is_traced_once(fresh_dynamo):
    """``lowered`` keys its casts by ``id``; a compiled graph would guard on those ids and be traced again for every
    new input (up to the recompile limit, then run eagerly). While compiling it casts each input instead."""
    import torch._dynamo
    layer = AttentionLayer(build_attention("full"), d_model=8, n_heads=2)
    compiled = torch.compile(layer, backend="eager")
    with torch._dynamo.config.patch(error_on_recompile=True):
        for _ in range(3):
            x = torch.randn(2, 5, 8)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = compiled(x, x, x)
                want = layer(x, x, x)
            assert out.dtype == torch.bfloat16
            torch.testing.assert_close(out, want, rtol=0, atol=0)
