"""Where and in what precision a run computes: a GPU when there is one, bfloat16 autocast where the hardware runs it
natively, float32 elsewhere.

On CPUs without bf16 instructions (AVX2-only, or AVX512 without AVX512-BF16/AMX) bf16 matmuls are emulated and
run many times slower than fp32 (37x measured on an AVX2 machine), so ``auto`` decides from the hardware first. On
a CPU that has them it also asks how wide the model is: a model of width (d_model) up to ``NARROW_MAX`` is bound by
memory traffic, not by its matrix multiplies, and bf16 autocast only adds casts there (LongPatch, 16 wide: a whole
run 0.94x and 0.97x the fp32 one on an AMX and an AVX512-BF16 CPU; benchmarks/results/train_speed_etth1.md), so
it stays in fp32. GPUs take bf16 at any width. A model without a width (DLinear: two linear maps from the lookback
to the horizon) is left to the hardware: its maps are wide matrix multiplies (336 x 720 at the longest horizon), and
a DLinear training step took 0.99x / 0.72x / 0.63x the fp32 time in bf16 at horizons 96 / 720 / 720 with 7 / 7 / 21
channels on an AVX512-BF16 AMD EPYC (one thread, batch 32; test MSE unchanged, 6.919 against 6.917 on a user's CSV).
"""

import os
from functools import cache
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# oneDNN, which runs torch's CPU matmuls, can be capped below the CPU's instruction set (an AVX2 machine's speed
# measured on a newer one): at these levels it has no bf16 instructions
ISA_CAPS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
# every variable that holds a library below this CPU's instructions, as benchmark records name them: PyTorch's own
# kernels, oneDNN's and MKL's matmuls
INSTRUCTION_CAPS = ("ATEN_CPU_CAPABILITY", *ISA_CAPS, "MKL_ENABLE_INSTRUCTIONS")
NO_BF16_ISAS = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI"})
NARROW_MAX = 64  # model widths up to which ``auto`` keeps a CPU run in fp32 (as nn.feed_forward.CHUNK_MAX_WIDTH)


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of this machine (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device: torch.device | str = "cpu") -> tuple[bool, str]:
    """Whether ``device`` computes bf16 matmuls natively, and why, in words for the log."""
    device = torch.device(device)
    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported()
        return ok, f"{torch.cuda.get_device_name(device)} {'supports' if ok else 'lacks'} bf16"
    found = [f for f in BF16_CPU_FLAGS if f in cpu_flags()]
    capped = next((f"{v}={os.environ[v]}" for v in ISA_CAPS if os.environ.get(v, "").upper() in NO_BF16_ISAS), None)
    if found and capped:
        return False, f"this CPU has {', '.join(found)}, but {capped} keeps oneDNN from using them"
    if found:
        return True, f"this CPU has {', '.join(found)}"
    return False, f"this CPU has none of {', '.join(BF16_CPU_FLAGS)}"


def model_width(model) -> int | None:
    """A model's width (its config's ``d_model``; through a DistributedDataParallel wrapper, its module's), or None
    for a model without one."""
    model = getattr(model, "module", model)
    return getattr(getattr(model, "config", None), "d_model", None)


def resolve_precision(precision: str, device: torch.device | str = "cpu", width: int | None = None) -> tuple[str, str]:
    """"fp32" or "bf16" for ``precision`` ("auto", "fp32" or "bf16") on ``device``, and the reason; ``width`` is
    the model's (``model_width``), where known."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision, "chosen"
    ok, why = native_bf16(device)
    if ok and width is not None and width <= NARROW_MAX and torch.device(device).type == "cpu":
        return "fp32", f"auto: {why}, but a model {width} wide spends its time moving memory, not multiplying " \
            "matrices, so bf16 would not speed it up"
    return ("bf16" if ok else "fp32"), f"auto: {why}"


def cpu_summary() -> str:
    """The vector and bf16 flags this CPU has, for benchmark records (speed ratios depend on them)."""
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
    flags = [f for f in wanted if f in cpu_flags()]
    caps = [f"{v}={os.environ[v]}" for v in INSTRUCTION_CAPS if os.environ.get(v)]
    capped = f" (capped: {', '.join(caps)})" if caps else ""  # an older CPU's kernels on this one
    return "flags " + (" ".join(flags) if flags else "unknown") + capped


def machine_summary(device: str) -> str:
    """Where a benchmark cell ran (its run's device): the GPU's name, or the CPU's vector and bf16 flags."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({cpu_summary()}), {torch.get_num_threads()} threads"


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device for ``device``: "auto" is the first CUDA GPU where torch sees one, else the CPU; any other
    value ("cpu", "cuda", "cuda:1") is taken as given, and a GPU that is not there stops with one line."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}") from e
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU on this machine (torch "
                         f"{torch.__version__}); use --device cpu or auto")
    return resolved


def device_label(device: torch.device) -> str:
    """The device in words for the log: the GPU's name, or "CPU"."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return "CPU" if device.type == "cpu" else str(device)
