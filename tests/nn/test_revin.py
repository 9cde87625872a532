"""Instance normalization restores the original scale exactly."""

import pytest
import torch

from sparsecast.nn import RevIN


@pytest.mark.parametrize("affine", [False, True])
def test_restore_undoes_normalize_exactly(affine):
    torch.manual_seed(0)
    x = torch.randn(4, 50, 3, dtype=torch.float64) * torch.tensor([1.0, 100.0, 3.0]) + torch.tensor([5.0, -3e4, 0])
    revin = RevIN(3, affine=affine).double()
    if affine:
        with torch.no_grad():
            revin.weight.copy_(torch.tensor([0.5, 2.0, 1.5]))
            revin.bias.copy_(torch.tensor([0.1, -1.0, 0.0]))
    z, stats = revin.normalize(x)
    if not affine:  # each window and channel has mean 0 and std 1 after normalizing
        torch.testing.assert_close(z.mean(1), torch.zeros(4, 3, dtype=torch.float64), atol=1e-9, rtol=0)
        torch.testing.assert_close(z.std(1, unbiased=False), torch.ones(4, 3, dtype=torch.float64), atol=1e-5,
                                   rtol=0)
    torch.testing.assert_close(revin.restore(z, stats), x, atol=1e-9, rtol=1e-9)
    # restoring only some channels uses those channels' statistics
    torch.testing.assert_close(revin.restore(z[..., 1:], stats, slice(1, 3)), x[..., 1:], atol=1e-9, rtol=1e-9)


def test_constant_window_does_not_divide_by_zero():
    x = torch.full((2, 10, 1), 7.0)
    z, stats = RevIN(1).normalize(x)
    assert torch.isfinite(z).all()
    torch.testing.assert_close(RevIN(1).restore(z, stats), x)
