"""Every kernel: one call signature, causality, no (L, S) matrix, clear errors."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from sparsecast.attention import ATTENTION, build_attention

KERNELS = [("full", {}), ("probsparse", {"factor": 2}), ("probsparse", {"factor": 2, "sampling": "shared"}),
           ("strided", {"stride": 4}), ("strided", {"stride": 4, "part": "local"}),
           ("strided", {"stride": 4, "part": "stride"}), ("fixed", {"stride": 4, "c": 2}),
           ("fixed", {"stride": 4, "c": 1, "part": "block"}), ("fixed", {"stride": 4, "c": 2, "part": "summary"})]


@pytest.mark.parametrize("name,params", KERNELS)
def test_shapes_and_batch_one(name, params):
    kernel = build_attention(name, **params).eval()
    for B in (1, 3):
        q, k, v = (torch.randn(B, 2, 37, 8) for _ in range(3))
        assert kernel(q, k, v).shape == (B, 2, 37, 8)
        assert torch.isfinite(kernel(q, k, v, causal=True)).all()


@pytest.mark.parametrize("name,params", KERNELS)
def test_causal_kernels_ignore_the_future(name, params):
    kernel = build_attention(name, **params).eval()
    q, k, v = (torch.randn(2, 2, 64, 8, dtype=torch.float64) for _ in range(3))
    out = kernel(q, k, v, causal=True)
    for t in (0, 17, 40):
        q2, k2, v2 = q.clone(), k.clone(), v.clone()
        for x in (q2, k2, v2):
            x[:, :, t + 1:] = torch.randn_like(x[:, :, t + 1:]) * 3
        out2 = kernel(q2, k2, v2, causal=True)
        torch.testing.assert_close(out2[:, :, : t + 1], out[:, :, : t + 1], rtol=0, atol=1e-12)


class _LargestTensor(TorchDispatchMode):
    """Records the largest number of elements of any tensor an op produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("name,params", [k for k in KERNELS if k[0] != "full"])
@pytest.mark.parametrize("causal", [False, True])
def test_sparse_kernels_never_build_an_L_by_L_matrix(name, params, causal):
    params = {**params, "stride": 32} if "stride" in params else params
    B, H, L, D = 1, 2, 1024, 4
    q, k, v = (torch.randn(B, H, L, D) for _ in range(3))
    kernel = build_attention(name, **params).eval()
    with _LargestTensor() as probe:
        kernel(q, k, v, causal=causal)
    assert probe.largest < B * H * L * L // 4, f"{name} made a tensor of {probe.largest} elements"


def test_registry_errors_name_the_problem():
    assert set(ATTENTION) == {"full", "probsparse", "strided", "fixed"}
    with pytest.raises(ValueError, match="unknown attention 'dense'"):
        build_attention("dense")
    with pytest.raises(ValueError, match="stride"):
        build_attention("probsparse", stride=3)
    with pytest.raises(ValueError, match="self-attention"):
        build_attention("strided")(torch.randn(1, 1, 4, 2), torch.randn(1, 1, 5, 2), torch.randn(1, 1, 5, 2))
    with pytest.raises(ValueError, match="c must be"):
        build_attention("fixed", stride=4, c=5)
    with pytest.raises(ValueError, match="backend must be one of"):
        build_attention("strided", backend="triton")
