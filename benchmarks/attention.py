"""Time and peak memory of every attention kernel against PyTorch's fused SDPA, over sequence length.

For each kernel and length a fresh subprocess builds q, k, v (B, H, L, D) fp32, warms the code paths up at a tiny
length, then runs forward+backward ``--repeats`` times, timing the forward and the whole step separately, and reports
the medians and the peak RSS above the inputs' (ru_maxrss, so the worst of the repeats). Ratios are against SDPA
(causal for the causal kernels, non-causal for the others) measured in the same run. A cell whose SDPA step would
take longer than ``--max-seconds`` per repeat (estimated from the previous length) or whose memory would not fit is
skipped and reported as such.

    python benchmarks/attention.py --out benchmarks/results/attention
    python benchmarks/attention.py --device cuda --batch 1 --lengths 8192,16384,32768,65536 \
        --kernels "SDPA causal,strided causal,fixed causal (c=8)" --out benchmarks/results/attention/gpu

On a GPU the strided and fixed kernels run as parts in dense layouts (``attention.flex.flex_pattern``); the labels
ending in "(one mask)" run the earlier form, one FlexAttention mask over the whole pattern, for comparison (GPU
only: FlexAttention has no CPU backward; the default kernel list on the CPU leaves them out).

On the CPU every cell runs two children. The timing child runs in the environment as given (a user's: glibc's
default allocator settings unless the caller sets MALLOC_* or THP_MEM_ALLOC_ENABLE, which are recorded with the
results). The memory child runs one forward+backward step with MALLOC_MMAP_THRESHOLD_=131072 (``--memory-threshold``),
so that glibc gives every freed block over 128 KiB back to the system: its peak RSS is the peak of live tensors, not of
what the allocator happens to keep cached. (Until the twenty-fifth session one child did both under that setting,
which slows every allocation of a tile's buffers to fresh, page-faulted memory: on an AVX2 EPYC it made strided
attention 1.75x slower at L=16384, SDPA 1.13x.) THP_MEM_ALLOC_ENABLE=1 makes PyTorch's CPU allocator back large
tensors with transparent huge pages; it applies to SDPA and the sparse kernels alike.

writes attention.json, attention.md and attention.png (log-log time and memory against L) under --out.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from sparsecast.atomic import atomic_path

KERNELS = {  # label: (registry name, params, causal, SDPA baseline label)
    "SDPA": ("full", {}, False, None),
    "SDPA causal": ("full", {}, True, None),
    "probsparse per_query": ("probsparse", {"sampling": "per_query"}, False, "SDPA"),
    "probsparse shared": ("probsparse", {"sampling": "shared"}, False, "SDPA"),
    "strided causal": ("strided", {}, True, "SDPA causal"),
    "fixed causal (c=8)": ("fixed", {"c": 8}, True, "SDPA causal"),
    # GPU only (FlexAttention has no CPU backward): the pattern as one FlexAttention mask, the earlier GPU form
    "strided causal (one mask)": ("strided", {"backend": "flex_whole"}, True, "SDPA causal"),
    "fixed causal (c=8; one mask)": ("fixed", {"c": 8, "backend": "flex_whole"}, True, "SDPA causal"),
}
CPU_KERNELS = [label for label, (_, params, _, _) in KERNELS.items() if "backend" not in params]

ALLOCATOR_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "THP_MEM_ALLOC_ENABLE")  # recorded with timings

CHILD = r"""
import json, resource, statistics, sys, time, torch
from sparsecast.attention import build_attention
name, params, causal, B, H, L, D, repeats, threads, device, dtype = json.loads(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(0)
dtype = getattr(torch, dtype)
cuda = device.startswith("cuda")
kernel = build_attention(name, **params)
def sync():
    if cuda:
        torch.cuda.synchronize()
def step(L):
    q, k, v = (torch.randn(B, H, L, D, device=device, dtype=dtype, requires_grad=True) for _ in range(3))
    sync()
    t0 = time.perf_counter()
    out = kernel(q, k, v, causal=causal)
    sync()
    t1 = time.perf_counter()
    out.backward(torch.ones_like(out))
    sync()
    return t1 - t0, time.perf_counter() - t0
step(L if cuda else 64)  # warm up lazily loaded code paths (on a GPU: compile for this length)
inputs_mib = 3 * B * H * L * D * torch.finfo(dtype).bits / 8 / 2**20
if cuda:
    torch.cuda.reset_peak_memory_stats()
base = torch.cuda.memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
times = [step(L) for _ in range(repeats)]
peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"forward_s": statistics.median(t[0] for t in times),
                  "fwd_bwd_s": statistics.median(t[1] for t in times),
                  "fwd_bwd_all_s": [t[1] for t in times],
                  "peak_mib": (peak - base) / 2**20 - 2 * inputs_mib}))
"""


def _child(arg: list, timeout: float, env: dict) -> dict:
    try:
        res = subprocess.run([sys.executable, "-c", CHILD, json.dumps(arg)], capture_output=True, text=True,
                             timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"skipped": f"over {timeout:.0f} s"}
    if res.returncode:
        return {"skipped": (res.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def measure(name, params, causal, B, H, L, D, repeats, threads, timeout, device="cpu", dtype="float32",
            memory_threshold="131072"):
    """Times in the environment as given; on the CPU the peak memory from a second child, one step with glibc's
    mmap threshold at ``memory_threshold`` bytes (freed blocks go back to the system: the peak of live tensors)."""
    arg = [name, params, causal, B, H, L, D, repeats, threads, device, dtype]
    timed = _child(arg, timeout, dict(os.environ))
    if device != "cpu" or "skipped" in timed:
        return timed
    arg[7] = 1
    memory = _child(arg, max(60.0, 4 * timed["fwd_bwd_s"] + 60),  # a slower allocator, one step, the imports
                    {**os.environ, "MALLOC_MMAP_THRESHOLD_": memory_threshold})
    if "skipped" in memory:  # keep the timing child's peak, and say why
        return {**timed, "memory_skipped": memory["skipped"]}
    return {**timed, "peak_mib": memory["peak_mib"], "peak_mib_same_process": timed["peak_mib"]}


def _ms(seconds: float) -> str:
    """Milliseconds to three significant figures at most (GPU steps take well under one)."""
    ms = seconds * 1e3
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.3g}"


def markdown(results, lengths, meta) -> str:
    if "timing_env" in meta and meta.get("device", "cpu") != "cpu":
        env = "times and peak allocated memory from one process"
    elif "timing_env" in meta:
        env = ", ".join(f"{k}={v}" for k, v in meta["timing_env"].items())
        env = f"timed with {env}; peak memory from one step with MALLOC_MMAP_THRESHOLD_={meta['memory_threshold']}"
    else:  # runs before the twenty-fifth session: one child for both
        env = (f"THP_MEM_ALLOC_ENABLE={meta['thp']}, MALLOC_MMAP_THRESHOLD_="
               f"{meta.get('malloc_mmap_threshold', 'unset')} for times and memory")
    lines = [f"B={meta['B']} H={meta['H']} D={meta['D']} {meta.get('dtype', 'float32')} on "
             f"{meta.get('device_name', 'the CPU')}, {meta['threads']} threads, median of "
             f"{meta['repeats']} forward+backward steps after a warm-up; {env}; "
             f"{meta['machine']}; torch {meta['torch']}; {meta['wall_s']:.0f} s in all.",
             "Time: forward / forward+backward; x: SDPA's forward+backward time over the kernel's (causal kernels "
             "against causal SDPA); memory: peak RSS (on a GPU: peak allocated) above the inputs and their gradients, "
             "forward+backward.", "",
             "| kernel | " + " | ".join(f"L={L}" for L in lengths) + " |",
             "|---|" + "---|" * len(lengths)]
    for label, (_, _, _, base) in KERNELS.items():
        if not results.get(label):  # a kernel this run left out
            continue
        cells = []
        for L in lengths:
            r, b = results[label].get(str(L)), results.get(base, {}).get(str(L)) if base else None
            if r is None or "skipped" in r:
                cells.append(f"skipped ({r['skipped']})" if r else "-")
                continue
            same = " (the timing process's: its memory child failed)" if "memory_skipped" in r else ""
            cell = f"{_ms(r['forward_s'])} / {_ms(r['fwd_bwd_s'])} ms, {r['peak_mib']:.0f} MiB{same}"
            if b and "skipped" not in b:
                cell += f", **{b['fwd_bwd_s'] / r['fwd_bwd_s']:.1f}x**, mem {r['peak_mib'] / max(b['peak_mib'], 1):.1f}x"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(results, lengths, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for label in KERNELS:
        cells = results.get(label, {})
        pts = [(L, cells[str(L)]) for L in lengths if str(L) in cells and "skipped" not in cells[str(L)]]
        if not pts:
            continue
        style = "--" if label.startswith("SDPA") else "-"
        axes[0].plot([L for L, _ in pts], [r["fwd_bwd_s"] for _, r in pts], style, marker="o", label=label)
        axes[1].plot([L for L, _ in pts], [max(r["peak_mib"], 1) for _, r in pts], style, marker="o", label=label)
    for ax, ylabel in zip(axes, ["forward+backward seconds", "peak MiB above inputs"]):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length L")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", default="96,512,2048,8192,16384")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-seconds", type=float, default=300.0, help="skip a cell whose step would take longer")
    p.add_argument("--kernels", default=None, help="comma-separated labels (default: all that run on the device)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (on a GPU the strided and fixed kernels run as "
                   "compiled FlexAttention, SDPA as flash attention in half precision)")
    p.add_argument("--dtype", default=None, help="float32, bfloat16 (default: float32 on the CPU, bfloat16 on a GPU)")
    p.add_argument("--memory-threshold", default="131072",
                   help="glibc's MALLOC_MMAP_THRESHOLD_ in bytes for the CPU's memory child (default 128 KiB)")
    p.add_argument("--out", default="benchmarks/results/attention")
    a = p.parse_args()
    dtype = a.dtype or ("float32" if a.device == "cpu" else "bfloat16")
    lengths = [int(x) for x in a.lengths.split(",")]
    labels = a.kernels.split(",") if a.kernels else CPU_KERNELS if a.device == "cpu" else list(KERNELS)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "attention.json"
    import torch
    from sparsecast.training.precision import cpu_summary  # it imports torch too: here, not at the top
    meta = {"B": a.batch, "H": a.heads, "D": a.head_dim, "threads": a.threads, "repeats": a.repeats,
            "timing_env": {k: os.environ.get(k, "unset") for k in ALLOCATOR_ENV},
            "memory_threshold": a.memory_threshold,
            "torch": torch.__version__,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
                       + (f", {cpu_summary()}" if a.device == "cpu" else ""),
            "device": a.device, "dtype": dtype,
            "device_name": torch.cuda.get_device_name() if a.device.startswith("cuda") else "the CPU"}
    results = {label: {} for label in KERNELS}
    earlier = json.loads(json_path.read_text()) if json_path.exists() else None
    if earlier and "timing_env" not in earlier["meta"]:  # measured with one child under the mmap threshold
        print(f"{json_path}: its cells were measured the earlier way (times under the mmap threshold); not kept")
    elif earlier:  # keep cells of other kernels from an earlier run, measured the same way
        results.update({k: v for k, v in earlier["results"].items() if k not in labels})
    start = time.perf_counter()
    for label in labels:
        name, params, causal, _ = KERNELS[label]
        previous = None
        for L in lengths:
            expected = previous and previous["fwd_bwd_s"] * (L / previous["L"]) ** 2
            if expected and expected > a.max_seconds:
                r = {"skipped": f"about {expected:.0f} s per step by the L^2 trend"}
            else:
                r = measure(name, params, causal, a.batch, a.heads, L, a.head_dim, a.repeats, a.threads,
                            timeout=max(60.0, 3 * a.max_seconds * (a.repeats + 1)), device=a.device, dtype=dtype,
                            memory_threshold=a.memory_threshold)
            if "skipped" not in r:
                previous = {**r, "L": L}
            results[label][str(L)] = r
            print(f"{label:24s} L={L:6d} " + (f"fwd {r['forward_s']:.3f} s  fwd+bwd {r['fwd_bwd_s']:.3f} s  "
                  f"peak {r['peak_mib']:.0f} MiB" if "skipped" not in r else f"skipped: {r['skipped']}"), flush=True)
            meta["wall_s"] = time.perf_counter() - start  # written after every cell: a run cut short keeps its cells
            with atomic_path(json_path) as tmp:  # never half-written, even when the run is killed mid-write
                Path(tmp).write_text(json.dumps({"meta": meta, "lengths": lengths, "results": results}, indent=1))
            with atomic_path(out / "attention.md") as tmp:
                Path(tmp).write_text(markdown(results, lengths, meta))
    plot(results, lengths, out / "attention.png")
    print(markdown(results, lengths, meta))


if __name__ == "__main__":
    main()
