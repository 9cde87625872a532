"""Speed options of the trainer (bf16 autocast, torch.compile) keep the loss within tolerance of plain fp32."""

import math

import pytest
import torch

from sparsecast.data import ForecastBatch
from sparsecast.models import Informer, InformerConfig, LongPatch, LongPatchConfig
from sparsecast.training import TrainConfig, evaluate_loss, fit


def _data(n_batches=6, B=8, seed=1):
    """Windows of a noisy sine: learnable, so the loss falls over the epochs."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n_batches):
        phase = torch.rand(B, 1, 1, generator=g) * 2 * math.pi
        t = torch.arange(40).view(1, 40, 1) * 0.3 + phase
        series = torch.sin(t) + 0.05 * torch.randn(B, 40, 1, generator=g)
        marks = torch.rand(B, 40, 4, generator=g) - 0.5
        batches.append(ForecastBatch(x=series[:, :32], x_mark=marks[:, :32], future_mark=marks[:, 32:],
                                     y=series[:, 32:]))
    return batches


def _train(attn="probsparse", **options):
    torch.manual_seed(0)
    model = Informer(InformerConfig(enc_in=1, dec_in=1, c_out=1, seq_len=32, label_len=16, pred_len=8, d_model=32,
                                    n_heads=2, e_layers=2, d_layers=1, d_ff=64, dropout=0.0, factor=3, attn=attn))
    data = _data()
    hist = fit(model, data[:4], data[4:], TrainConfig(epochs=3, lr=1e-3, lradj="constant", progress=False, **options))
    return hist, evaluate_loss(model, data[4:])


def test_bf16_autocast_keeps_the_loss_close_to_fp32():
    # a tiny model, so the bf16 path stays fast on CPUs without native bf16 too
    fp32, fp32_val = _train(precision="fp32")
    bf16, bf16_val = _train(precision="bf16")
    assert fp32.train_loss[-1] < fp32.train_loss[0]  # it learns
    for a, b in zip(fp32.train_loss + fp32.val_loss, bf16.train_loss + bf16.val_loss):
        assert abs(a - b) <= 0.05 * a + 1e-3, (fp32.train_loss, bf16.train_loss, fp32.val_loss, bf16.val_loss)
    assert abs(fp32_val - bf16_val) <= 0.05 * fp32_val + 1e-3  # the restored weights score in fp32 alike


def test_bf16_predictions_match_fp32_within_tolerance():
    from sparsecast.training import predict
    torch.manual_seed(0)
    model = Informer(InformerConfig(enc_in=1, dec_in=1, c_out=1, seq_len=32, label_len=16, pred_len=8, d_model=32,
                                    n_heads=2, d_ff=64, dropout=0.0, factor=3))
    data = _data()
    fp32, truth = predict(model, data, bf16=False)
    bf16, _ = predict(model, data, bf16=True)
    assert bf16.dtype == fp32.dtype and abs(bf16 - fp32).max() <= 0.05 * abs(fp32).max()
    assert truth.shape == fp32.shape


@pytest.mark.parametrize("flags,expected", [({"avx2", "avx512f"}, "fp32"), ({"avx512f", "avx512_bf16"}, "bf16"),
                                            ({"amx_bf16"}, "bf16"), (set(), "fp32")])
def test_auto_precision_follows_the_cpu_flags(monkeypatch, flags, expected):
    from sparsecast.training import precision
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(flags))
    assert precision.resolve_precision("auto")[0] == expected
    assert precision.resolve_precision("fp32")[0] == "fp32" and precision.resolve_precision("bf16")[0] == "bf16"
    assert TrainConfig(bf16=True).resolved_precision()[0] == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="fp16")


@pytest.mark.parametrize("cap,expected", [("AVX2", "fp32"), ("avx512_core", "fp32"), ("AVX512_CORE_AMX", "bf16"),
                                          ("", "bf16")])
def test_auto_takes_fp32_where_onednn_is_capped_below_bf16(monkeypatch, cap, expected):
    """ONEDNN_MAX_CPU_ISA=AVX2 on a bf16 CPU runs its matmuls as an AVX2 CPU would: auto chooses as there, and says
    why."""
    from sparsecast.training import precision
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "amx_bf16"}))
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    chosen, why = precision.resolve_precision("auto")
    assert chosen == expected
    assert (f"ONEDNN_MAX_CPU_ISA={cap}" in why) == (expected == "fp32")


def test_cpu_summary_records_the_flags_and_every_instruction_cap(monkeypatch):
    """A benchmark's CPU line says which kernels ran: an AVX512 CPU capped to AVX2 (ATen, oneDNN and MKL) is not
    an AVX512 one."""
    from sparsecast.training import precision
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16", "sse4_2"}))
    for var in precision.INSTRUCTION_CAPS:
        monkeypatch.delenv(var, raising=False)
    assert precision.cpu_summary() == "flags avx2 avx512f avx512_bf16"
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    assert precision.cpu_summary() == ("flags avx2 avx512f avx512_bf16 (capped: ATEN_CPU_CAPABILITY=avx2, "
                                       "ONEDNN_MAX_CPU_ISA=AVX2, MKL_ENABLE_INSTRUCTIONS=AVX2)")


def test_auto_keeps_narrow_models_in_fp32_on_a_bf16_cpu(monkeypatch):
    """bf16 does not pay for a model bound by memory (LongPatch, 16 wide): auto keeps it in fp32 on the CPU only."""
    from sparsecast.training import precision
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16"}))
    narrow, why = precision.resolve_precision("auto", "cpu", width=16)
    assert narrow == "fp32" and "16 wide" in why
    assert precision.resolve_precision("auto", "cpu", width=precision.NARROW_MAX + 1)[0] == "bf16"
    assert precision.resolve_precision("auto", "cpu")[0] == "bf16"  # a model without a width: the hardware decides
    assert precision.resolve_precision("bf16", "cpu", width=16)[0] == "bf16"  # a forced choice stands
    monkeypatch.setattr(precision, "native_bf16", lambda device: (True, "a GPU with bf16"))
    assert precision.resolve_precision("auto", "cuda", width=16)[0] == "bf16"
    monkeypatch.setattr(precision, "native_bf16", lambda device: (True, "this CPU has amx_bf16"))
    longpatch = LongPatch(LongPatchConfig(enc_in=7, c_out=7, seq_len=96, pred_len=24))
    assert precision.model_width(longpatch) == 16
    wrapper = torch.nn.Module()
    wrapper.module = longpatch  # where DistributedDataParallel holds the model it trains
    assert precision.model_width(wrapper) == 16
    assert TrainConfig().resolved_precision("cpu", longpatch)[0] == "fp32"
    assert TrainConfig().resolved_precision("cpu", Informer(InformerConfig(enc_in=7, dec_in=7, c_out=7)))[0] == "bf16"


def test_compile_runs_one_eager_forward_first(monkeypatch):
    """Caches a kernel fills on first use (FlexAttention's block masks) are filled before torch.compile traces: one
    forward without gradients, in eval mode, the random stream untouched, the model's mode restored."""
    from sparsecast.training import trainer

    calls = []

    class Probe(torch.nn.Linear):
        def forward(self, x, **_):
            calls.append(("eager", torch.is_grad_enabled(), self.training, torch.rand(()).item()))
            return super().forward(x)

    monkeypatch.setattr(torch, "compile", lambda model: calls.append(("compile",)) or model)
    model = Probe(1, 1)
    torch.manual_seed(3)
    expected = torch.rand(()).item()
    torch.manual_seed(3)
    assert trainer.compile_warm(model, _data(n_batches=2)) is model
    assert [c[:3] for c in calls] == [("eager", False, False), ("compile",)] and model.training
    assert torch.rand(()).item() == expected  # the warm-up's draw was on a forked stream
    assert trainer.compile_warm(model, []) is model  # nothing to warm up with: compiled as is


@pytest.mark.slow
@pytest.mark.parametrize("attn,rtol", [("full", 1e-3), ("probsparse", 0.05)])
def test_compile_keeps_the_loss_of_eager(attn, rtol):
    """Full attention is deterministic: compiled losses match eager closely. ProbSparse samples keys in training,
    and compiled code draws other random numbers than eager code, so its losses agree only statistically."""
    eager, eager_val = _train(attn, precision="fp32")
    compiled, compiled_val = _train(attn, compile=True, precision="fp32")
    torch.testing.assert_close(compiled.train_loss + compiled.val_loss, eager.train_loss + eager.val_loss,
                               rtol=rtol, atol=1e-5)
    assert abs(compiled_val - eager_val) <= rtol * eager_val


def test_device_auto_takes_a_gpu_only_where_torch_sees_one(monkeypatch):
    from sparsecast.training.precision import resolve_device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda:0")
    with pytest.raises(ValueError, match="auto, cpu, cuda or cuda:N"):
        resolve_device("gpu please")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_model_device_of_a_model_with_buffers_only():
    from sparsecast.training.trainer import model_device
    buffered = torch.nn.Module()
    buffered.register_buffer("profile", torch.zeros(3))
    assert model_device(buffered) == torch.device("cpu") and model_device(torch.nn.Identity()) == torch.device("cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (runs on the device machine)")
def test_training_on_a_gpu_matches_the_cpu():
    """The same fit on the GPU and on the CPU (no dropout; the same ProbSparse samples): close losses."""
    cpu, cpu_val = _train(precision="fp32", device="cpu")
    gpu, gpu_val = _train(precision="fp32", device="cuda")
    assert gpu.train_loss[-1] < gpu.train_loss[0]
    assert gpu_val == pytest.approx(cpu_val, rel=0.1)
