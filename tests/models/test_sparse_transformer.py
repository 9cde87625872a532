"""Sparse Transformer: causality, the patterns each combination uses, recomputation, embeddings, sampling."""

import pytest
import torch
import torch.nn.functional as F

from sparsecast.attention import fixed_mask, strided_mask
from sparsecast.models import SparseTransformer, SparseTransformerConfig
from sparsecast.models.sparse_transformer.model import PositionEmbedding, block_kernel

COMBOS = [("full", "merged")] + [(a, c) for a in ("strided", "fixed") for c in ("interleaved", "merged", "multihead")]


def tiny(**kw) -> SparseTransformerConfig:
    base = dict(vocab_size=11, shape=(32,), n_layers=2, d_model=16, n_heads=2, stride=4, dropout=0.0)
    return SparseTransformerConfig(**{**base, **kw})


@pytest.mark.parametrize("attn,combine", COMBOS)
def test_model_is_causal(attn, combine):
    model = SparseTransformer(tiny(attn=attn, combine=combine, c=2 if attn == "fixed" else None)).eval()
    x = torch.randint(0, 11, (2, 32))
    logits = model(x)
    for t in (0, 9, 20):
        x2 = x.clone()
        x2[:, t + 1:] = torch.randint(0, 11, x2[:, t + 1:].shape)
        torch.testing.assert_close(model(x2)[:, : t + 1], logits[:, : t + 1], rtol=0, atol=1e-5)


def _probe(kernel, L=24, H=2):
    """Which keys each (head, query) attends to: one-hot values, equal scores -> weights > 0 where allowed."""
    q = torch.zeros(1, H, L, L, dtype=torch.float64)
    v = torch.eye(L, dtype=torch.float64).expand(1, H, L, L)
    return kernel(q, q, v, causal=True)[0] > 0  # (H, L, L)


@pytest.mark.parametrize("attn", ["strided", "fixed"])
def test_each_combination_uses_the_patterns_it_claims(attn):
    L, l, c = 24, 4, 2
    halves = {"strided": [strided_mask(L, l, True, p) for p in ("local", "stride")],
              "fixed": [fixed_mask(L, l, c, True, p) for p in ("block", "summary")]}[attn]
    union = halves[0] | halves[1]
    cfg = lambda combine: tiny(attn=attn, combine=combine, shape=(L,), c=c, n_layers=2)  # noqa: E731
    for r in range(2):  # interleaved: block r uses half r
        seen = _probe(block_kernel(cfg("interleaved"), r), L)
        assert torch.equal(seen[0], halves[r]) and torch.equal(seen[1], halves[r])
    seen = _probe(block_kernel(cfg("merged"), 0), L)
    assert torch.equal(seen[0], union) and torch.equal(seen[1], union)
    seen = _probe(block_kernel(cfg("multihead"), 0), L)
    assert torch.equal(seen[0], halves[0]) and torch.equal(seen[1], halves[1])


def test_distinct_summaries_give_each_head_its_own_sub_block():
    L, l, c = 24, 8, 2
    cfg = lambda combine, heads: tiny(attn="fixed", combine=combine, shape=(L,), stride=l, c=c,  # noqa: E731
                                      n_heads=heads, d_model=8 * heads, distinct_summaries=True)
    seen = _probe(block_kernel(cfg("merged", 2), 0), L)
    for h in range(2):
        assert torch.equal(seen[h], fixed_mask(L, l, c, True, "union", offset=h * c))
    seen = _probe(block_kernel(cfg("interleaved", 2), 1), L)  # block 1: the summary half
    for h in range(2):
        assert torch.equal(seen[h], fixed_mask(L, l, c, True, "summary", offset=h * c))
    seen = _probe(block_kernel(cfg("multihead", 4), 0), L, H=4)  # heads 2, 3: summary, offsets 0 and c
    assert torch.equal(seen[0], fixed_mask(L, l, c, True, "block"))
    for h in (2, 3):
        assert torch.equal(seen[h], fixed_mask(L, l, c, True, "summary", offset=(h - 2) * c))
    model = SparseTransformer(cfg("merged", 2)).eval()  # still causal
    x = torch.randint(0, 11, (2, L))
    x2 = x.clone()
    x2[:, 13:] = (x2[:, 13:] + 1) % 11
    torch.testing.assert_close(model(x2)[:, :13], model(x)[:, :13], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="distinct_summaries needs n_heads"):
        tiny(attn="fixed", stride=4, c=2, n_heads=4, d_model=16, distinct_summaries=True)


def test_recomputation_gives_the_same_loss_and_gradients():
    x = torch.randint(0, 11, (3, 32))
    base = SparseTransformer(tiny(dropout=0.1))
    other = SparseTransformer(tiny(dropout=0.1, recompute=True))
    other.load_state_dict(base.state_dict())
    grads = []
    for model in (base, other):
        torch.manual_seed(5)
        loss = F.cross_entropy(model(x).flatten(0, 1), x.flatten())
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b)


def test_2d_position_embedding_distinguishes_rows_from_columns():
    emb = PositionEmbedding((4, 6), 8)
    pos = emb(24, "cpu")  # (24, 8)
    row, col = emb.dims[0].weight, emb.dims[1].weight
    # position 7 is row 1, column 1; position 1 is row 0, column 1; position 6 is row 1, column 0
    torch.testing.assert_close(pos[7], row[1] + col[1])
    torch.testing.assert_close(pos[1], row[0] + col[1])
    torch.testing.assert_close(pos[6], row[1] + col[0])
    assert not torch.allclose(pos[1], pos[6])


def test_output_projections_are_scaled_for_depth():
    cfg = tiny(n_layers=64, d_model=32, n_heads=2)
    model = SparseTransformer(cfg)
    std = model.blocks[0].fc2.weight.std().item()
    assert std == pytest.approx(0.02 / (2 * 64) ** 0.5, rel=0.1)


@pytest.mark.slow
def test_deep_stack_trains_without_diverging():
    model = SparseTransformer(tiny(n_layers=64, d_model=16, n_heads=2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randint(0, 11, (8, 32))
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x).flatten(0, 1), x.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0] - 0.3


def test_overfits_one_batch():
    model = SparseTransformer(tiny(d_model=32))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = torch.randint(0, 11, (4, 33))
    for _ in range(200):
        loss = F.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1


def test_generate_is_reproducible_with_a_seed():
    model = SparseTransformer(tiny())
    prompt = torch.tensor([[1, 2, 3]])
    a, b = model.generate(prompt, 40, seed=7), model.generate(prompt, 40, seed=7)
    assert torch.equal(a, b) and a.shape == (1, 43) and torch.equal(a[:, :3], prompt)
    assert not torch.equal(a, model.generate(prompt, 40, seed=8))
    assert model.generate(prompt, 5, top_k=1, seed=1).equal(model.generate(prompt, 5, top_k=1, seed=2))


@pytest.mark.parametrize("field,value", [("attn", "probsparse"), ("combine", "x"), ("n_heads", 3), ("c", 9)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError):
        tiny(**{field: value})


@pytest.mark.parametrize("attn", ["full", "strided", "fixed"])
def test_bf16_autocast_loss_stays_close_to_fp32(attn):
    from sparsecast.training.trainer import autocast
    model = SparseTransformer(tiny(attn=attn, c=2 if attn == "fixed" else None, d_model=32))
    x = torch.randint(0, 11, (4, 33))
    fp32 = F.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
    with autocast(True):
        bf16 = F.cross_entropy(model(x[:, :-1]).float().flatten(0, 1), x[:, 1:].flatten())
    assert abs(bf16.item() - fp32.item()) < 0.02 * fp32.item()
