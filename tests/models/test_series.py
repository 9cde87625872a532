"""Series wrappers: RevIN and channel independence around any forecasting model."""

import dataclasses

import pytest
import torch
from torch import nn

from sparsecast.models import (BaselineConfig, DLinear, Informer, InformerConfig, SeriesConfig, SeriesModel,
                               series_config, wrap)


class LastSteps(nn.Module):
    """A stand-in forecaster: the horizon is the last P input steps of the forecast channels."""

    def __init__(self, p: int, c_out: int):
        super().__init__()
        self.p, self.c_out = p, c_out

    def forward(self, x, x_mark, future_mark, origin=None):
        return x[:, -self.p:, x.shape[2] - self.c_out:]


@pytest.mark.parametrize("ci", [False, True])
def test_revin_output_is_restored_to_the_original_scale_exactly(ci):
    torch.manual_seed(0)
    x = (torch.randn(3, 20, 4, dtype=torch.float64) * 50 + 1000)
    model = SeriesModel(LastSteps(5, 1 if ci else 2), SeriesConfig(revin=True, channel_independent=ci), 4, 2)
    out = model(x, torch.zeros(3, 20, 1), torch.zeros(3, 5, 1))
    torch.testing.assert_close(out, x[:, -5:, 2:], atol=1e-9, rtol=1e-9)


def test_channel_independent_is_each_channel_through_the_same_weights():
    torch.manual_seed(0)
    cfg = BaselineConfig(enc_in=1, c_out=1, seq_len=24, pred_len=6)
    inner = DLinear(cfg)
    model = wrap(inner, SeriesConfig(channel_independent=True), n_channels=3, c_out=3)
    x = torch.randn(5, 24, 3)
    out = model(x, torch.zeros(5, 24, 2), torch.zeros(5, 6, 2))
    assert out.shape == (5, 6, 3)
    for c in range(3):
        torch.testing.assert_close(out[..., c:c + 1], inner(x[..., c:c + 1], None, None))
    # MS: the forecast channel is the last one
    ms = wrap(inner, SeriesConfig(channel_independent=True), n_channels=3, c_out=1)
    torch.testing.assert_close(ms(x, torch.zeros(5, 24, 2), torch.zeros(5, 6, 2)), out[..., 2:])


def test_informer_with_revin_and_channel_independence_trains():
    torch.manual_seed(0)
    cfg = InformerConfig(enc_in=1, dec_in=1, c_out=1, seq_len=16, label_len=8, pred_len=4, d_model=16, n_heads=2,
                         d_ff=16, e_layers=1)
    model = wrap(Informer(cfg), SeriesConfig(revin=True, revin_affine=True, channel_independent=True), 3, 3)
    x, marks, future = torch.randn(2, 16, 3) * 10 + 3, torch.randn(2, 16, 4), torch.randn(2, 4, 4)
    out = model(x, marks, future)
    assert out.shape == (2, 4, 3)
    out.sum().backward()
    assert model.revin.weight.grad is not None and model.inner.projection.weight.grad is not None


def test_series_defaults_per_model_and_overrides():
    assert series_config("patchtst", {}).revin and series_config("longpatch", {}).revin
    assert not series_config("informer", {}).revin
    assert not series_config("longpatch", {"revin": False}).revin
    assert series_config("informer", {"revin": True, "channel_independent": None}).revin
    with pytest.raises(ValueError, match="revin_affine needs revin"):
        SeriesConfig(revin_affine=True)


def _seasonal(n_windows, L, P, profile, noise=0.0, seed=0):
    """Windows of a series that is its seasonal profile (W, C) plus a per-window level and noise."""
    gen = torch.Generator().manual_seed(seed)
    W, C = profile.shape
    origin = torch.randint(0, 10_000, (n_windows,), generator=gen)
    steps = origin[:, None] + torch.arange(-L, P)  # (N, L + P)
    level = torch.randn(n_windows, 1, C, generator=gen, dtype=torch.float64)
    series = profile[steps % W] + level + noise * torch.randn(n_windows, L + P, C, generator=gen, dtype=torch.float64)
    return series[:, :L], series[:, L:], origin


@pytest.mark.parametrize("revin", [False, True])
def test_deseason_removes_the_profile_and_restores_the_horizon_s(revin):
    from sparsecast.data.batch import ForecastBatch
    torch.manual_seed(0)
    profile = torch.randn(6, 3, dtype=torch.float64)  # (W, C)
    x, y, origin = _seasonal(500, 12, 4, profile)
    model = SeriesModel(LastSteps(4, 2), SeriesConfig(revin=revin, deseason=True, profile_len=6), 3, 2).double()
    model.init_from_data([ForecastBatch(x=x, x_mark=None, future_mark=None, y=y[..., 1:], origin=origin)])
    # the fitted profile is the true one up to a constant per channel (the levels' mean trades with it)
    torch.testing.assert_close(model.profile - model.profile.mean(0), profile - profile.mean(0), atol=0.15, rtol=0)
    # the series less its profile is a constant level: repeating its last steps and adding the horizon's profile
    # back gives the truth exactly
    torch.testing.assert_close(model(x, None, None, origin), y[..., 1:], atol=1e-9, rtol=1e-9)


def test_deseason_needs_origins_and_a_season():
    model = SeriesModel(LastSteps(4, 1), SeriesConfig(deseason=True, profile_len=6), 3, 1)
    with pytest.raises(ValueError, match="needs each window's origin"):
        model(torch.randn(2, 12, 3), None, None)
    with pytest.raises(ValueError, match="profile_len >= 1"):
        SeriesModel(LastSteps(4, 1), SeriesConfig(deseason=True), 3, 1)


def test_deseason_fits_no_profile_on_windows_of_few_seasons():
    from sparsecast.data.batch import ForecastBatch
    from sparsecast.models.series import MIN_SEASONS
    profile = torch.randn(6, 3, dtype=torch.float64)
    model = SeriesModel(LastSteps(4, 3), SeriesConfig(deseason=True, profile_len=6), 3, 3).double()
    for n, fitted in ((MIN_SEASONS * 6 - 1, False), (MIN_SEASONS * 6, True)):
        x, y, origin = _seasonal(n, 12, 4, profile)
        model.init_from_data([ForecastBatch(x=x, x_mark=None, future_mark=None, y=y, origin=origin)])
        assert bool(model.profile.abs().max() > 0) == fitted


def test_longpatch_deseasons_sub_daily_data_unless_told_otherwise():
    assert series_config("longpatch", {}, "h").deseason and series_config("longpatch", {}, "15min").deseason
    assert not series_config("longpatch", {}, "D").deseason and not series_config("longpatch", {}).deseason
    assert not series_config("longpatch", {"deseason": False}, "h").deseason
    assert not series_config("dlinear", {}, "h").deseason


@pytest.mark.parametrize("val_profile_sign,kept", [(1.0, True), (-1.0, False)])
def test_deseason_stays_only_where_the_start_fits_validation_better(val_profile_sign, kept):
    from sparsecast.data.batch import ForecastBatch
    from sparsecast.models import LongPatch, LongPatchConfig
    torch.manual_seed(0)
    profile = 3 * torch.randn(24, 2, dtype=torch.float64)  # (W, C): a day, longer than the lookback
    inner = LongPatch(LongPatchConfig(enc_in=2, c_out=2, seq_len=8, pred_len=4, patch_len=4, patch_stride=2,
                                      d_model=8, n_heads=2, e_layers=1, d_ff=8, season=24, season_offsets=False))
    model = SeriesModel(inner, SeriesConfig(deseason=True, profile_len=24), 2, 2).double()

    def batch(n, prof, seed):
        x, y, origin = _seasonal(n, 8, 4, prof, noise=0.3, seed=seed)
        return ForecastBatch(x=x, x_mark=None, future_mark=None, y=y, origin=origin)
    # the validation period's profile is the training one's, or its opposite (a season that turned over)
    train, val = batch(1500, profile, 1), batch(500, val_profile_sign * profile, 2)
    model.init_from_data([train], [val])
    assert bool(model.profile.abs().max() > 0) == kept and model.start_choice is kept
    # a start given the choices validation made (the profile's, the inner skip's: TrainConfig.train_on_val) solves
    # them on the windows it gets: on the training windows alone, the validated start exactly
    def given(windows):
        fresh = LongPatch(LongPatchConfig(**{**dataclasses.asdict(inner.config), "channel_skip": None}))
        again = SeriesModel(fresh, SeriesConfig(deseason=True, profile_len=24), 2, 2).double()
        again.reuse_start_choice(model.start_choice)
        again.inner.reuse_start_choice(model.inner.start_choice)
        again.init_from_data(windows)
        return again
    same = given([train])
    for name, value in model.state_dict().items():  # the start's tensors (the encoder's are a random init)
        if name in ("profile", "inner.linear.weight", "inner.linear.bias", "inner.offsets"):
            torch.testing.assert_close(same.state_dict()[name], value, atol=1e-9, rtol=0, msg=name)
    again = given([train, val])
    assert bool(again.profile.abs().max() > 0) == kept and again.start_choice is None
