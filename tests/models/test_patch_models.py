"""PatchTST-style baseline and LongPatch on tiny data: shapes, gradients, the least-squares start, bad settings."""

import pytest
import torch

from sparsecast.models import LongPatch, LongPatchConfig, PatchTST, PatchTSTConfig, SeriesConfig, wrap
from sparsecast.nn import n_patches

TINY = dict(enc_in=3, c_out=3, seq_len=40, pred_len=8, patch_len=8, patch_stride=4, d_model=16, n_heads=2,
            e_layers=2, d_ff=32, dropout=0.0)


@pytest.mark.parametrize("cls,cfg_cls", [(PatchTST, PatchTSTConfig), (LongPatch, LongPatchConfig)])
@pytest.mark.parametrize("attn", ["full", "probsparse", "strided"])
def test_forward_backward(cls, cfg_cls, attn):
    torch.manual_seed(0)
    model = cls(cfg_cls(**TINY, attn=attn))
    x = torch.randn(4, 40, 3)
    out = model(x, None, None)
    assert out.shape == (4, 8, 3)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


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
    cfg = LongPatchConfig(**{**TINY, "enc_in": 2, "c_out": 2}, ridge=0.0)
    model = LongPatch(cfg).double()
    w_true = torch.randn(40, 8, dtype=torch.float64) / 10
    x = torch.randn(300, 40, 2, dtype=torch.float64)
    y = torch.einsum("blc,lp->bpc", x, w_true) + 0.5  # an exact linear map with a bias
    model.init_from_data([(x[:150], y[:150]), (x[150:], y[150:])])
    torch.testing.assert_close(model.linear.weight.T, w_true, atol=1e-8, rtol=1e-8)
    model.eval()
    torch.testing.assert_close(model(x, None, None), y, atol=1e-8, rtol=1e-8)  # the head starts at zero


def test_longpatch_init_through_revin_fits_the_normalized_windows():
    torch.manual_seed(0)
    model = wrap(LongPatch(LongPatchConfig(**TINY, ridge=0.0)), SeriesConfig(revin=True), 3, 3).double()
    x = torch.randn(200, 40, 3, dtype=torch.float64) * 5 + 20
    y = x[:, -8:]  # repeat the last 8 steps: linear in the normalized window too
    model.init_from_data([(x, y)])
    model.eval()
    torch.testing.assert_close(model(x, None, None), y, atol=1e-6, rtol=1e-6)


def test_patch_longer_than_lookback_is_refused_with_one_clear_message():
    with pytest.raises(ValueError, match=r"patch_len \(64\) is longer than the lookback seq_len \(40\)"):
        PatchTSTConfig(**{**TINY, "patch_len": 64})


def test_longpatch_chooses_its_ridge_by_the_validation_error():
    torch.manual_seed(0)
    cfg = LongPatchConfig(**{**TINY, "enc_in": 1, "c_out": 1})
    w_true = torch.randn(40, 8, dtype=torch.float64) / 40
    def windows(n):  # a weak linear signal in much noise, few windows for 41 coefficients
        x = torch.randn(n, 40, 1, dtype=torch.float64)
        return x, torch.einsum("blc,lp->bpc", x, w_true) + torch.randn(n, 8, 1, dtype=torch.float64)
    train, val = windows(50), windows(400)

    @torch.no_grad()
    def val_mse(model):
        model.eval()
        return float(((model(val[0], None, None) - val[1]) ** 2).mean())

    chosen = LongPatch(cfg).double()
    chosen.init_from_data([train], [val])
    fixed = []
    for k in range(6):
        m = LongPatch(LongPatchConfig(**{**TINY, "enc_in": 1, "c_out": 1}, ridge=cfg.ridge * 10 ** k)).double()
        m.init_from_data([train])
        fixed.append(val_mse(m))
    assert val_mse(chosen) == pytest.approx(min(fixed), rel=1e-9)  # the closed-form validation error picks it
    assert fixed.index(min(fixed)) > 0  # and here it is not the smallest ridge: few noisy windows need shrinkage
