"""Series wrappers: RevIN and channel independence around any forecasting model."""

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
