"""PatchTST-style baseline and LongPatch on tiny data: shapes, gradients, the least-squares start, bad settings."""

import dataclasses

import pytest
import torch
from torch import nn

from sparsecast.data.batch import ForecastBatch
from sparsecast.models import LongPatch, LongPatchConfig, PatchTST, PatchTSTConfig, SeriesConfig, wrap
from sparsecast.models.longpatch.model import MIN_SEASONS, ChannelLinear
from sparsecast.nn import n_patches

TINY = dict(enc_in=3, c_out=3, seq_len=40, pred_len=8, patch_len=8, patch_stride=4, d_model=16, n_heads=2,
            e_layers=2, d_ff=32, dropout=0.0)
NO_OFFSETS = dict(season_offsets=False)  # windows without timestamps


def windows(x, y, origin=None):
    return ForecastBatch(x=x, x_mark=None, future_mark=None, y=y, origin=origin)


@pytest.mark.parametrize("cls,cfg_cls", [(PatchTST, PatchTSTConfig), (LongPatch, LongPatchConfig)])
@pytest.mark.parametrize("attn", ["full", "probsparse", "strided"])
def test_forward_backward(cls, cfg_cls, attn):
    torch.manual_seed(0)
    model = cls(cfg_cls(**TINY, attn=attn, **(NO_OFFSETS if cls is LongPatch else {})))
    x = torch.randn(4, 40, 3)
    out = model(x, None, None)
    assert out.shape == (4, 8, 3)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_patchtst_s_own_encoder_layers_train_and_carry_their_logits():
    torch.manual_seed(0)
    model = PatchTST(PatchTSTConfig(**TINY, tst_layers=True))
    x = torch.randn(4, 40, 3)
    out = model(x, None, None)
    assert out.shape == (4, 8, 3)
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with pytest.raises(ValueError, match="tst_layers carries each layer's dense attention logits"):
        PatchTSTConfig(**TINY, tst_layers=True, attn="probsparse")
    assert PatchTSTConfig.from_dict({k: v for k, v in PatchTSTConfig().to_dict().items()
                                     if k != "tst_layers"}).tst_layers is False  # runs saved before it


@pytest.mark.parametrize("cls,cfg_cls,attn", [(PatchTST, PatchTSTConfig, "full"), (LongPatch, LongPatchConfig,
                                                                                    "probsparse")])
def test_batch_norm_in_our_layers_with_any_kernel(cls, cfg_cls, attn):
    """norm="batch": BatchNorm over the width in our encoder layers, statistics over every series and patch."""
    from sparsecast.nn.norm import BatchNormWidth
    torch.manual_seed(0)
    model = cls(cfg_cls(**TINY, attn=attn, norm="batch", **(NO_OFFSETS if cls is LongPatch else {})))
    assert all(isinstance(layer.norm1, BatchNormWidth) for layer in model.layers)
    out = model(torch.randn(4, 40, 3), None, None)
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    x = torch.randn(5, 7, 16, dtype=torch.float64)
    bn = BatchNormWidth(16).double()
    expected = (x - x.mean((0, 1))) / torch.sqrt(x.var((0, 1), unbiased=False) + bn.norm.eps)
    torch.testing.assert_close(bn(x), expected)
    with pytest.raises(ValueError, match="norm must be one of"):
        cfg_cls(**TINY, norm="group")


def test_tst_layer_is_patchtst_s_layer_written_out():
    """PatchTST's TSTEncoderLayer (BatchNorm, the previous logits added, post-norm) against the same math written
    out, in float64, training mode (batch statistics) without dropout."""
    from sparsecast.models.patchtst.tst_layer import TSTEncoderLayer
    torch.manual_seed(0)
    layer = TSTEncoderLayer(8, 2, 16, 0.0, "gelu").double().train()
    for norm in (layer.norm1.norm, layer.norm2.norm):  # not the identity they start as
        nn.init.uniform_(norm.weight, 0.5, 1.5)
        nn.init.uniform_(norm.bias, -0.5, 0.5)
    x, prev = torch.randn(5, 6, 8, dtype=torch.float64), torch.randn(5, 2, 6, 6, dtype=torch.float64)
    out, logits = layer(x, prev)

    def heads(t):
        return t.view(5, 6, 2, 4).transpose(1, 2)

    def batch_norm(t, bn):
        mean, var = t.mean((0, 1)), t.var((0, 1), unbiased=False)
        return (t - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias
    q, k, v = (heads(proj(x)) for proj in (layer.q_proj, layer.k_proj, layer.v_proj))
    expected_logits = q @ k.transpose(-2, -1) / 2.0 + prev  # sqrt(D) = 2
    attended = (torch.softmax(expected_logits, -1) @ v).transpose(1, 2).reshape(5, 6, 8)
    y = batch_norm(x + layer.out_proj(attended), layer.norm1.norm)
    ff = layer.ff.fc2(torch.nn.functional.gelu(layer.ff.fc1(y)))
    torch.testing.assert_close(logits, expected_logits)
    torch.testing.assert_close(out, batch_norm(y + ff, layer.norm2.norm))


def test_patches_cover_the_padded_lookback():
    assert n_patches(336, 16, 8) == 42  # PatchTST's count at lookback 336
    assert n_patches(40, 8, 4) == 10


def test_channels_are_independent_and_only_targets_are_encoded():
    torch.manual_seed(0)
    model = PatchTST(PatchTSTConfig(**{**TINY, "c_out": 1})).eval()
    x = torch.randn(2, 40, 3)
    y = model(x, None, None)
    x2 = x.clone()
    x2[..., :2] = torch.randn(2, 40, 2)  # other channels change; the target's forecast must not
    torch.testing.assert_close(model(x2, None, None), y)


def test_longpatch_starts_as_the_least_squares_linear_forecast():
    torch.manual_seed(0)
    cfg = LongPatchConfig(**{**TINY, "enc_in": 2, "c_out": 2}, ridge=0.0, **NO_OFFSETS)
    model = LongPatch(cfg).double()
    w_true = torch.randn(40, 8, dtype=torch.float64) / 10
    x = torch.randn(300, 40, 2, dtype=torch.float64)
    y = torch.einsum("blc,lp->bpc", x, w_true) + 0.5  # an exact linear map with a bias
    model.init_from_data([windows(x[:150], y[:150]), windows(x[150:], y[150:])])
    torch.testing.assert_close(model.linear.weight.T, w_true, atol=1e-8, rtol=1e-8)
    model.eval()
    torch.testing.assert_close(model(x, None, None), y, atol=1e-8, rtol=1e-8)  # the head starts at zero


def _two_laws(n=3000, seed=3):
    """Seasonal windows (season 6) where each of two channels follows its own exact linear law: (train, val),
    the laws (C, L, P)."""
    torch.manual_seed(0)
    w_true = torch.randn(2, 40, 8, dtype=torch.float64) / 10  # (C, L, P): a different law per channel
    profile = torch.randn(2, 6, 8, dtype=torch.float64)  # (C_out, W, P)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 40, 2, generator=gen, dtype=torch.float64)
    origin = torch.randint(0, 10_000, (n,), generator=gen)
    y = torch.einsum("blc,clp->bpc", x, w_true) + profile[:, origin % 6].permute(1, 2, 0) + 0.5
    cut = 2 * n // 3
    return windows(x[:cut], y[:cut], origin[:cut]), windows(x[cut:], y[cut:], origin[cut:]), w_true


TWO = dict(**{**TINY, "enc_in": 2, "c_out": 2}, season=6, ridge=0.0)


def test_longpatch_channel_skip_fits_each_channel_its_own_map_and_offsets():
    """With channel_skip each channel gets its own least-squares map (and offsets): where the data are an exact
    linear law per channel it finds them (up to the offsets' smallest penalty); the shared skip cannot fit two
    different laws."""
    train, val, w_true = _two_laws()
    per_channel = LongPatch(LongPatchConfig(**TWO, channel_skip=True)).double()
    error = per_channel.init_from_data([train], [val])
    torch.testing.assert_close(per_channel.linear.weight.transpose(1, 2), w_true, atol=2e-3, rtol=0)
    assert error < 1e-3  # validation MSE of the start (the offsets' penalty leaves about 1e-4)
    shared = LongPatch(LongPatchConfig(**TWO, channel_skip=False)).double()
    assert shared.init_from_data([train], [val]) > 0.1
    with torch.no_grad():
        torch.testing.assert_close(per_channel.eval()(val.x, None, None, val.origin), val.y, atol=0.05, rtol=0)


def _same_start(a: LongPatch, b: LongPatch) -> None:
    assert type(a.linear) is type(b.linear) and a.config == b.config
    fitted = lambda m: [m.linear.weight, m.linear.bias] + ([m.offsets] if m.offsets is not None else [])  # noqa: E731
    for x, y in zip(fitted(a), fitted(b)):
        torch.testing.assert_close(x, y, atol=1e-9, rtol=1e-9)


def test_longpatch_chooses_its_skip_shared_or_per_channel_by_the_validation_error():
    """channel_skip=None (the default) fits both skips and keeps the one validation prefers, exactly as the model
    built for that kind would start: per channel where the channels follow different laws; shared (its sums taken
    from the per-channel ones) where they follow one law in noise and few windows, without validation windows, and
    for one channel."""
    train, val, _ = _two_laws()
    auto = LongPatch(LongPatchConfig(**TWO)).double()
    error = auto.init_from_data([train], [val])
    assert auto.config.channel_skip is True and isinstance(auto.linear, ChannelLinear)
    per_channel = LongPatch(LongPatchConfig(**TWO, channel_skip=True)).double()
    assert error == pytest.approx(per_channel.init_from_data([train], [val]), rel=1e-9)
    _same_start(auto, per_channel)

    gen = torch.Generator().manual_seed(5)
    w = torch.randn(40, 8, dtype=torch.float64) / 10  # one law for both channels, in noise
    x = torch.randn(90, 40, 2, generator=gen, dtype=torch.float64)
    origin = torch.randint(0, 10_000, (90,), generator=gen)
    y = torch.einsum("blc,lp->bpc", x, w) + torch.randn(90, 8, 2, generator=gen, dtype=torch.float64)
    train, val = windows(x[:60], y[:60], origin[:60]), windows(x[60:], y[60:], origin[60:])
    first = ([windows(x[:60, :, :1], y[:60, :, :1], origin[:60])], [windows(x[60:, :, :1], y[60:, :, :1], origin[60:])])
    for kwargs, data in ((TWO, ([train], [val])), (TWO, ([train], [])), ({**TWO, "enc_in": 1, "c_out": 1}, first)):
        auto = LongPatch(LongPatchConfig(**kwargs)).double()
        error = auto.init_from_data(*data)
        assert auto.config.channel_skip is False and isinstance(auto.linear, nn.Linear)
        shared = LongPatch(LongPatchConfig(**kwargs, channel_skip=False)).double()
        expected = shared.init_from_data(*data)
        assert (error is None and expected is None) or error == pytest.approx(expected, rel=1e-9)
        _same_start(auto, shared)
    # every start chooses again (the series wrapper fits twice, with and without its seasonal profile)
    again = LongPatch(LongPatchConfig(**TWO)).double()
    laws_train, laws_val, _ = _two_laws(600)
    again.init_from_data([laws_train], [laws_val])
    assert again.config.channel_skip is True
    again.init_from_data([train], [val])
    assert again.config.channel_skip is False and isinstance(again.linear, nn.Linear)


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_chosen_skip_loads_back_into_a_model_that_chooses(wrapped):
    """A model built to choose takes the kind of skip its saved weights have (a resumed run, a run folder)."""
    train, val, _ = _two_laws(600)
    chosen = LongPatch(LongPatchConfig(**TWO)).double()
    chosen.init_from_data([train], [val])
    fresh = LongPatch(LongPatchConfig(**TWO)).double()
    assert isinstance(fresh.linear, nn.Linear)
    if wrapped:
        chosen, fresh = (wrap(m, SeriesConfig(revin=True), 2, 2) for m in (chosen, fresh))
    fresh.load_state_dict(chosen.state_dict())
    assert fresh.config.channel_skip is True
    with torch.no_grad():
        torch.testing.assert_close(fresh.eval()(val.x, None, None, val.origin),
                                   chosen.eval()(val.x, None, None, val.origin))
    assert LongPatchConfig.from_dict(fresh.config.to_dict()).channel_skip is True
    old = fresh.config.to_dict()
    del old["channel_skip"]
    assert LongPatchConfig.from_dict(old).channel_skip is False  # runs saved before the choice: a shared skip


def test_resuming_a_run_whose_start_chose_per_channel_skips_trains_them(tmp_path):
    """The checkpoint's weights set the skip's kind before the optimizer is built over the model's parameters."""
    from sparsecast.training.trainer import TrainConfig, fit
    train, val, _ = _two_laws(600)
    train_batches = [windows(train.x[i:i + 100].float(), train.y[i:i + 100].float(), train.origin[i:i + 100])
                     for i in range(0, 400, 100)]
    val_batches = [windows(val.x.float(), val.y.float(), val.origin)]
    cfg = dict(batch_size=100, lr=1e-3, patience=5, threads=1, progress=False, device="cpu", precision="fp32")
    torch.manual_seed(0)
    fit(LongPatch(LongPatchConfig(**TWO)), train_batches, val_batches, TrainConfig(epochs=1, **cfg),
        log=lambda s: None, checkpoint=tmp_path / "c.safetensors")
    resumed = LongPatch(LongPatchConfig(**TWO))
    fit(resumed, train_batches, val_batches, TrainConfig(epochs=2, **cfg), log=lambda s: None,
        checkpoint=tmp_path / "c.safetensors", resume=True)
    assert isinstance(resumed.linear, ChannelLinear) and resumed.config.channel_skip is True


def test_channel_linear_is_one_linear_map_per_channel():
    layer = ChannelLinear(3, 5, 4)
    torch.nn.init.normal_(layer.weight)
    torch.nn.init.normal_(layer.bias)
    z = torch.randn(2 * 3, 5)  # rows ordered (batch, channel)
    expected = torch.stack([z[r] @ layer.weight[r % 3].T + layer.bias[r % 3] for r in range(6)])
    torch.testing.assert_close(layer(z), expected)
    with pytest.raises(ValueError, match="channel_skip needs linear_skip"):
        LongPatchConfig(**TINY, linear_skip=False, channel_skip=True)


def test_longpatch_init_through_revin_fits_the_normalized_windows():
    torch.manual_seed(0)
    model = wrap(LongPatch(LongPatchConfig(**TINY, ridge=0.0, **NO_OFFSETS)), SeriesConfig(revin=True), 3, 3)
    model = model.double()
    x = torch.randn(200, 40, 3, dtype=torch.float64) * 5 + 20
    y = x[:, -8:]  # repeat the last 8 steps: linear in the normalized window too
    model.init_from_data([windows(x, y)])
    model.eval()
    torch.testing.assert_close(model(x, None, None), y, atol=1e-6, rtol=1e-6)


def test_patch_longer_than_lookback_is_refused_with_one_clear_message():
    with pytest.raises(ValueError, match=r"patch_len \(64\) is longer than the lookback seq_len \(40\)"):
        PatchTSTConfig(**{**TINY, "patch_len": 64})


def test_longpatch_chooses_its_ridge_by_the_validation_error():
    torch.manual_seed(0)
    cfg = LongPatchConfig(**{**TINY, "enc_in": 1, "c_out": 1}, **NO_OFFSETS)
    w_true = torch.randn(40, 8, dtype=torch.float64) / 40
    def noisy(n):  # a weak linear signal in much noise, few windows for 41 coefficients
        x = torch.randn(n, 40, 1, dtype=torch.float64)
        return windows(x, torch.einsum("blc,lp->bpc", x, w_true) + torch.randn(n, 8, 1, dtype=torch.float64))
    train, val = noisy(50), noisy(400)

    @torch.no_grad()
    def val_mse(model):
        model.eval()
        return float(((model(val.x, None, None) - val.y) ** 2).mean())

    chosen = LongPatch(cfg).double()
    chosen.init_from_data([train], [val])
    fixed = []
    for k in range(6):
        m = LongPatch(LongPatchConfig(**{**TINY, "enc_in": 1, "c_out": 1}, ridge=cfg.ridge * 10 ** k,
                                      **NO_OFFSETS)).double()
        m.init_from_data([train])
        fixed.append(val_mse(m))
    assert val_mse(chosen) == pytest.approx(min(fixed), rel=1e-9)  # the closed-form validation error picks it
    assert fixed.index(min(fixed)) > 0  # and here it is not the smallest ridge: few noisy windows need shrinkage


def test_a_start_given_the_validated_choice_solves_it_on_all_its_windows():
    """reuse_start_choice(start_choice): the next start takes the ridge, offsets and skip kind validation chose
    and solves them on the windows it is given (training and validation together), as a model built with that ridge
    and kind fits them; without it, a start with no validation windows takes the smallest ridge."""
    torch.manual_seed(0)
    cfg = dict(**{**TINY, "enc_in": 1, "c_out": 1}, **NO_OFFSETS)
    w_true = torch.randn(40, 8, dtype=torch.float64) / 40
    def noisy(n):
        x = torch.randn(n, 40, 1, dtype=torch.float64)
        return windows(x, torch.einsum("blc,lp->bpc", x, w_true) + torch.randn(n, 8, 1, dtype=torch.float64))
    train, val = noisy(50), noisy(400)
    validated = LongPatch(LongPatchConfig(**cfg)).double()
    validated.init_from_data([train], [val])
    kind, ((ridge, offset_ridge, last),) = validated.start_choice
    assert kind is False and ridge > LongPatchConfig(**cfg).ridge and offset_ridge is None and last is False
    again = LongPatch(LongPatchConfig(**cfg)).double()
    again.reuse_start_choice(validated.start_choice)
    assert again.init_from_data([train, val]) is None and again.start_choice is None
    expected = LongPatch(LongPatchConfig(**cfg, ridge=ridge)).double()
    expected.init_from_data([train, val])  # no validation windows: its own (smallest) ridge
    expected.config = dataclasses.replace(expected.config, ridge=again.config.ridge)  # the rest is the same start
    _same_start(again, expected)
    plain = LongPatch(LongPatchConfig(**cfg)).double()
    plain.init_from_data([train, val])
    assert not torch.allclose(plain.linear.weight, again.linear.weight)
    # the skip kind: per channel where validation chose it, though a start without validation would share
    laws_train, laws_val, _ = _two_laws()
    chooser = LongPatch(LongPatchConfig(**TWO)).double()
    chooser.init_from_data([laws_train], [laws_val])
    again = LongPatch(LongPatchConfig(**TWO)).double()
    again.reuse_start_choice(chooser.start_choice)
    again.init_from_data([laws_train, laws_val])
    assert chooser.config.channel_skip is True and again.config.channel_skip is True
    per_channel = LongPatch(LongPatchConfig(**TWO, channel_skip=True)).double()
    per_channel.reuse_start_choice(chooser.start_choice)
    per_channel.init_from_data([laws_train, laws_val])
    _same_start(again, per_channel)


def test_longpatch_shrinks_towards_the_last_value_where_validation_prefers_it():
    """On random walks with few training windows, a ridge towards zero pulls the forecast to the lookback's mean;
    ridge_target="auto" also tries shrinking towards the last value (and the last value itself), and its start's
    validation error is the lowest of them; "last" with an enormous ridge is the last value exactly."""
    gen = torch.Generator().manual_seed(0)

    def walks(n):
        path = torch.randn(n, 48, 1, generator=gen, dtype=torch.float64).cumsum(1)
        return windows(path[:, :40], path[:, 40:])
    train, val = walks(30), walks(400)

    @torch.no_grad()
    def start(**settings):
        model = LongPatch(LongPatchConfig(**{**TINY, "enc_in": 1, "c_out": 1}, **NO_OFFSETS, **settings)).double()
        model.init_from_data([train], [val])
        model.eval()
        return model, float(((model(val.x, None, None) - val.y) ** 2).mean())

    (_, zero), (_, last), (auto, chosen) = (start(ridge_target=t) for t in ("zero", "last", "auto"))
    assert chosen <= min(zero, last) + 1e-12 and chosen < zero
    assert auto.linear.weight[:, -1].mean() > 0.5  # mostly the last value
    persistence, _ = start(ridge_target="last", ridge=1e12)
    torch.testing.assert_close(persistence(val.x, None, None), val.x[:, -1:].expand(-1, 8, -1), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="ridge_target"):
        LongPatchConfig(**TINY, ridge_target="mean")


def _seasonal_windows(n, profile, w_true, noise, seed):
    """x random; y = linear(x) + profile[channel, origin mod W] + noise, origins at random phases."""
    gen = torch.Generator().manual_seed(seed)
    C, W, P = profile.shape
    x = torch.randn(n, 40, C, generator=gen, dtype=torch.float64)
    origin = torch.randint(0, 10_000, (n,), generator=gen)
    y = torch.einsum("blc,lp->bpc", x, w_true) + profile[:, origin % W].permute(1, 2, 0)
    return windows(x, y + noise * torch.randn(y.shape, generator=gen, dtype=torch.float64), origin)


def test_longpatch_fits_seasonal_offsets_per_channel_and_phase():
    torch.manual_seed(0)
    cfg = LongPatchConfig(**{**TINY, "enc_in": 2, "c_out": 2}, season=6)
    profile = torch.randn(2, 6, 8, dtype=torch.float64)  # (C_out, W, P): each channel its own
    w_true = torch.randn(40, 8, dtype=torch.float64) / 10
    train, val = (_seasonal_windows(n, profile, w_true, 0.1, seed) for n, seed in ((3000, 1), (1000, 2)))
    model = LongPatch(cfg).double()
    model.init_from_data([train], [val])
    centred = profile - profile.mean(1, keepdim=True)  # the offsets' mean over phases trades with the bias
    torch.testing.assert_close(model.offsets - model.offsets.mean(1, keepdim=True), centred, atol=0.03, rtol=0)
    model.eval()
    with torch.no_grad():
        err = (model(val.x, None, None, val.origin) - val.y).square().mean()
        without = LongPatch(LongPatchConfig(**{**TINY, "enc_in": 2, "c_out": 2}, **NO_OFFSETS)).double()
        without.init_from_data([train], [val])
        err_without = (without.eval()(val.x, None, None) - val.y).square().mean()
    assert err < 0.02 < 0.5 < err_without  # noise 0.01; without offsets the profile stays unexplained


def test_longpatch_leaves_offsets_out_where_validation_prefers():
    torch.manual_seed(0)
    cfg = LongPatchConfig(**{**TINY, "enc_in": 1, "c_out": 1}, season=4)
    nothing = torch.zeros(1, 4, 8, dtype=torch.float64)  # no seasonal profile: offsets can only fit noise
    w_true = torch.randn(40, 8, dtype=torch.float64) / 10
    train, val = (_seasonal_windows(n, nothing, w_true, 1.0, seed) for n, seed in ((200, 1), (2000, 2)))
    model = LongPatch(cfg).double()
    model.init_from_data([train], [val])
    assert model.offsets.abs().max() < 0.05  # left out, or shrunk to nearly nothing


def test_longpatch_tries_no_offsets_on_training_windows_of_few_seasons():
    cfg = LongPatchConfig(**{**TINY, "enc_in": 1, "c_out": 1}, season=24)
    profile = torch.randn(1, 24, 8, dtype=torch.float64)
    w_true = torch.randn(40, 8, dtype=torch.float64) / 10
    few = MIN_SEASONS * 24 - 1  # windows: one short of MIN_SEASONS seasons
    train, val = (_seasonal_windows(n, profile, w_true, 0.1, seed) for n, seed in ((few, 1), (500, 2)))
    model = LongPatch(cfg).double()
    model.init_from_data([train], [val])
    assert model.offsets.abs().max() == 0
    more = _seasonal_windows(few + 1, profile, w_true, 0.1, 1)
    model.init_from_data([more], [val])
    assert model.offsets.abs().max() > 0.5


def test_longpatch_with_offsets_needs_origins():
    model = LongPatch(LongPatchConfig(**TINY, season=4))
    with pytest.raises(ValueError, match="needs each window's origin"):
        model(torch.randn(2, 40, 3), None, None)


def test_runs_saved_before_the_offsets_load_without_them():
    old = LongPatchConfig(**TINY).to_dict()
    del old["season_offsets"], old["season"], old["freq"]
    assert LongPatchConfig.from_dict(old).offset_phases == 0
    assert LongPatchConfig.from_dict(LongPatchConfig(**TINY).to_dict()).offset_phases == 24  # hourly by default


@pytest.mark.parametrize("independent", [False, True])
def test_offsets_through_the_series_wrappers(independent):
    torch.manual_seed(0)
    inner = LongPatch(LongPatchConfig(**{**TINY, **({"enc_in": 1, "c_out": 1} if independent else {})}, season=6))
    model = wrap(inner, SeriesConfig(revin=True, channel_independent=independent), 3, 3)
    x, origin = torch.randn(4, 40, 3), torch.tensor([0, 1, 7, 13])
    marks = torch.zeros(4, 40, 1), torch.zeros(4, 8, 1)
    with torch.no_grad():
        inner.offsets.copy_(torch.randn(inner.offsets.shape))
        base = model(x, *marks, origin)
        shifted = model(x, *marks, origin + 6)  # a whole season later: the same phase
        moved = model(x, *marks, origin + 1)
    torch.testing.assert_close(shifted, base)
    assert not torch.allclose(moved, base)
    batch = ForecastBatch(x=x, x_mark=marks[0], future_mark=marks[1], y=torch.randn(4, 8, 3), origin=origin)
    model.init_from_data([batch], [batch])  # the wrapper hands the origins to the closed-form fit


def test_longpatch_reports_its_start_s_validation_mse_in_the_loss_s_units():
    torch.manual_seed(0)
    model = wrap(LongPatch(LongPatchConfig(**TINY, **NO_OFFSETS)), SeriesConfig(revin=True), 3, 3).double()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(300, 48, 3, generator=gen, dtype=torch.float64).cumsum(1) * torch.tensor([1.0, 5.0, 0.2])
    train, val = windows(x[:200, :40], x[:200, 40:]), windows(x[200:, :40], x[200:, 40:])
    error = model.inner.init_from_data([model._seen_batch(train)], [model._seen_batch(val)])
    with torch.no_grad():
        mse = (model.eval()(val.x, None, None) - val.y).square().mean()
    assert error == pytest.approx(float(mse), rel=1e-6)  # what the trainer's validation loss is
