"""Informer: shapes for M/S/MS, distilling lengths, decoder causality, determinism, overfitting one batch."""

import pytest
import torch

from sparsecast.models import Informer, InformerConfig, decoder_input
from sparsecast.models.informer.encoder import DistilLayer

KERNELS = ["probsparse", "full", "strided", "fixed"]


def tiny(**kw) -> InformerConfig:
    base = dict(enc_in=3, dec_in=3, c_out=3, seq_len=32, label_len=16, pred_len=8, d_model=16, n_heads=2,
                e_layers=2, d_layers=1, d_ff=32, dropout=0.0, factor=2)
    return InformerConfig(**{**base, **kw})


def batch(cfg: InformerConfig, B=4, T=4):
    return (torch.randn(B, cfg.seq_len, cfg.enc_in), torch.rand(B, cfg.seq_len, T) - 0.5,
            torch.rand(B, cfg.pred_len, T) - 0.5)


@pytest.mark.parametrize("L,expected", [(96, [48, 24]), (25, [13, 7]), (1, [1, 1])])
def test_distilling_halves_the_length(L, expected):
    layer = DistilLayer(8).eval()
    x = torch.randn(2, L, 8)
    lengths = []
    for _ in expected:
        x = layer(x)
        lengths.append(x.shape[1])
    assert lengths == expected


@pytest.mark.parametrize("attn", KERNELS)
@pytest.mark.parametrize("features,c_in,c_out", [("M", 3, 3), ("S", 1, 1), ("MS", 3, 1)])
def test_output_shape(attn, features, c_in, c_out):
    cfg = tiny(attn=attn, enc_in=c_in, dec_in=c_in, c_out=c_out)
    assert Informer(cfg)(*batch(cfg)).shape == (4, cfg.pred_len, c_out)


@pytest.mark.parametrize("embed", ["timeF", "fixed", "learned"])
@pytest.mark.parametrize("stack", [None, (3, 2, 1)])
def test_embeddings_and_stack(embed, stack):
    cfg = tiny(embed=embed, stack=stack)
    x, xm, fm = batch(cfg, T=4 if embed == "timeF" else 5)
    if embed != "timeF":
        xm, fm = torch.randint(0, 4, xm.shape).float(), torch.randint(0, 4, fm.shape).float()
    assert Informer(cfg)(x, xm, fm).shape == (4, 8, 3)


def test_decoder_input_is_known_steps_then_zeros():
    x = torch.arange(10.0).view(1, 10, 1)
    xm, fm = torch.zeros(1, 10, 2), torch.ones(1, 3, 2)
    values, stamps = decoder_input(x, xm, fm, label_len=4)
    assert values.flatten().tolist() == [6, 7, 8, 9, 0, 0, 0]
    assert stamps[0, :, 0].tolist() == [0, 0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize("attn", KERNELS)
def test_decoder_is_causal(attn):
    # ProbSparse's global top-u (the paper's decoder default) lets later rows change which rows are active; its
    # causal-prefix rule is strictly causal, like every other kernel.
    cfg = tiny(attn=attn, selection="prefix")
    model = Informer(cfg).eval()
    x = torch.randn(2, 24, cfg.d_model)
    memory = torch.randn(2, 16, cfg.d_model)
    out = model.decoder(x, memory)
    t = 10
    x2 = x.clone()
    x2[:, t + 1:] = torch.randn_like(x2[:, t + 1:])
    torch.testing.assert_close(model.decoder(x2, memory)[:, : t + 1], out[:, : t + 1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("attn", KERNELS)
def test_eval_is_deterministic(attn):
    cfg = tiny(attn=attn, dropout=0.1)
    model = Informer(cfg).eval()
    inputs = batch(cfg)
    torch.testing.assert_close(model(*inputs), model(*inputs), rtol=0, atol=0)


def test_decoder_gathers_exactly_u_queries_by_default():
    cfg = tiny(seq_len=64, label_len=40, pred_len=32, factor=5)  # decoder length 72: u = 5 * ceil(ln 72) = 25
    model = Informer(cfg).eval()
    model(*batch(cfg))
    kernel = model.decoder.layers[0].self_attention.kernel
    assert kernel.selection == "global" and kernel.last_active.shape[-1] == 25
    assert (kernel.last_active >= 0).all()


@pytest.mark.parametrize("attn,d_layers,mix", [("probsparse", 1, False), ("probsparse", 2, False), ("full", 2, False),
                                               ("probsparse", 2, True)])
def test_decoder_cut_to_the_horizon_is_exact(attn, d_layers, mix):
    torch.manual_seed(0)
    cfg = tiny(attn=attn, d_layers=d_layers, factor=5, mix=mix)
    model = Informer(cfg).double().eval()
    x, x_mark, future = (t.double() for t in batch(cfg))
    out = model(x, x_mark, future)
    memory = model.encoder(model.enc_embedding(x, x_mark))
    dec_x, dec_mark = decoder_input(x, x_mark, future, cfg.label_len)
    full = model.decoder(model.dec_embedding(dec_x, dec_mark), memory)  # every row, no cut
    torch.testing.assert_close(out, model.projection(full[:, -cfg.pred_len:]), rtol=1e-12, atol=1e-12)


def test_eval_samples_differ_per_layer_and_repeat_per_call():
    cfg = tiny(distil=False, seq_len=64)  # both encoder layers at length 64
    model = Informer(cfg).eval()
    first, second = model.encoder_kernels()
    a, b = first._sample(64, 64, 10, False), second._sample(64, 64, 10, False)
    assert not torch.equal(a, b)
    assert torch.equal(a, first._sample(64, 64, 10, False))
    assert torch.equal(Informer(cfg).eval().encoder_kernels()[1]._sample(64, 64, 10, False), b)
    legacy = Informer(InformerConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "layer_seeds"}))
    assert [k.eval_seed for k in legacy.eval().encoder_kernels()] == [0, 0]


def test_output_attention_reports_active_queries():
    cfg = tiny(output_attention=True, seq_len=64)
    forecast, active = Informer(cfg).eval()(*batch(cfg))
    assert forecast.shape == (4, 8, 3)
    assert [a.shape[-1] for a in active] == [2 * 5, 2 * 4]  # factor * ceil(ln L) for L = 64, 32


@pytest.mark.parametrize("attn", KERNELS)
def test_overfits_one_batch(attn):
    cfg = tiny(attn=attn)
    model = Informer(cfg)
    x, xm, fm = batch(cfg, B=8)
    y = torch.randn(8, cfg.pred_len, cfg.c_out)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(300):
        loss = torch.nn.functional.mse_loss(model(x, xm, fm), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02 * first, (first, loss.item())


@pytest.mark.parametrize("field,value", [("d_model", 0), ("label_len", 99), ("attn", "dense"), ("embed", "x"),
                                         ("n_heads", 3), ("dropout", 1.0), ("freq", "fortnightly"), ("stack", ()),
                                         ("lazy", "x")])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field if field != "n_heads" else "divisible"):
        tiny(**{field: value})


def test_config_round_trips_through_dict():
    cfg = tiny(stack=(2, 1), attn="fixed", stride=4, c=2, mix=True, lazy="cumsum")
    assert InformerConfig.from_dict(cfg.to_dict()) == cfg
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("mix", "lazy")}  # a run saved before the options
    assert InformerConfig.from_dict(old).mix is False and InformerConfig.from_dict(old).lazy == "mean"
    assert cfg.attention_kwargs() == {"stride": 4, "c": 2}


def test_mix_merges_the_decoder_heads_as_the_official_code_does():
    """The official AttentionLayer with mix=True gets (B, L, H, D) from its kernel and does
    out.transpose(2, 1).contiguous().view(B, L, -1); ours gets (B, H, L, D) and must give the same rows."""
    torch.manual_seed(0)
    model = Informer(tiny(mix=True)).double().eval()
    layer = model.decoder.layers[0].self_attention
    assert layer.mix and not model.decoder.layers[0].cross_attention.mix
    assert not any(m.mix for name, m in model.named_modules() if name.startswith("encoder") and hasattr(m, "mix"))
    assert sum(hasattr(m, "mix") for name, m in model.named_modules() if name.startswith("encoder")) == 2
    x = torch.randn(2, 24, 16, dtype=torch.float64)
    q, k, v = (layer._heads(proj(x)) for proj in (layer.q_proj, layer.k_proj, layer.v_proj))
    context = layer.kernel(q, k, v, causal=True).transpose(1, 2)  # (B, L, H, D), as the official kernels return it
    official = layer.out_proj(context.transpose(2, 1).contiguous().view(2, 24, -1))
    torch.testing.assert_close(layer(x, x, x, causal=True), official, rtol=0, atol=0)
    plain = Informer(tiny()).double().eval()
    plain.load_state_dict(model.state_dict())  # the same weights: only the merge differs
    inputs = [t.double() for t in batch(tiny())]
    assert not torch.allclose(plain(*inputs), model(*inputs))


def test_lazy_reaches_every_probsparse_kernel_and_only_the_masked_one_acts_on_it():
    model = Informer(tiny(lazy="cumsum"))
    kernels = {name: m.lazy for name, m in model.named_modules() if hasattr(m, "lazy")}
    assert kernels and all(v == "cumsum" for v in kernels.values())  # no effect on the unmasked encoder calls
    assert model.decoder.layers[0].self_attention.kernel.lazy == "cumsum"
    assert not hasattr(model.decoder.layers[0].cross_attention.kernel, "lazy")  # full attention
