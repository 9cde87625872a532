"""bf16 CPU training with narrow attention heads: the three routes of ``attention/full.py`` for small sizes, timed in
one process, alternating, so every route sees the same machine load:

- "explicit": the explicit form in float32 (the route of heads at least ``EXPLICIT_MIN_HEAD_DIM`` wide);
- "upcast": the fused kernel on float32 copies (the route of narrower heads, the default for them);
- "fused bf16": the fused kernel in bf16 (the route outside small-size training).

Two measurements: one attention call, forward and backward, per head width at PatchTST's 42 patches and batch
896 (128 windows x 7 channels) and at Informer's heads of 64, and one training step of the PatchTST-style model's
large setting (d_model 128, 16 heads of 8, the LTSF table's ETTm and weather recipe) at batch 128 on 7 channels
under bf16 autocast.

    python benchmarks/narrow_heads.py --threads 1 --steps 7 --out benchmarks/results/narrow_heads/table.md
"""

import argparse
import contextlib
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import sparsecast.attention.full as full
from sparsecast.models.patchtst import PatchTST, PatchTSTConfig
from sparsecast.training.precision import cpu_summary
from step_speed import add_row, finish

ROUTES = ("explicit", "upcast", "fused bf16")
DEFAULTS = (full.EXPLICIT_MAX, full.EXPLICIT_MIN_HEAD_DIM)


@contextlib.contextmanager
def route(name: str, head_dim: int):
    """Make ``softmax_attention`` take ``name`` for heads of ``head_dim`` at the sizes timed here."""
    full.EXPLICIT_MAX, full.EXPLICIT_MIN_HEAD_DIM = {
        "explicit": (DEFAULTS[0], 0), "upcast": (DEFAULTS[0], head_dim + 1), "fused bf16": (0, DEFAULTS[1])}[name]
    try:
        yield
    finally:
        full.EXPLICIT_MAX, full.EXPLICIT_MIN_HEAD_DIM = DEFAULTS


def taken_route(head_dim: int) -> str:
    """The route bf16 training takes for heads of ``head_dim`` at a size inside the small-size limits, by the
    library's own predicates."""
    q = torch.zeros(1, 1, 1, head_dim, dtype=torch.bfloat16, requires_grad=True)
    return "upcast" if full.upcast(q, q, q) else "explicit" if full.explicit(q, q, q) else "fused bf16"


def alternate(step, head_dim: int, repeats: int) -> dict[str, float]:
    """Median seconds of ``step()`` per route, the routes taking turns after one warm-up each."""
    times = {name: [] for name in ROUTES}
    for name in ROUTES:
        with route(name, head_dim):
            step()
    for _ in range(repeats):
        for name in ROUTES:
            with route(name, head_dim):
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def attention_call(batch: int, heads: int, length: int, head_dim: int):
    q, k, v = (torch.randn(batch, heads, length, head_dim, dtype=torch.bfloat16, requires_grad=True)
               for _ in range(3))

    def step():
        full.softmax_attention(q, k, v).float().sum().backward()
    return step


def patchtst_step():
    torch.manual_seed(0)
    model = PatchTST(PatchTSTConfig(enc_in=7, c_out=7, seq_len=336, pred_len=96, d_model=128, n_heads=16, d_ff=256,
                                    dropout=0.2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    x, y = torch.randn(128, 336, 7), torch.randn(128, 96, 7)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        opt.zero_grad(set_to_none=True)
        F.mse_loss(out.float(), y).backward()
        opt.step()
    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=7, help="timed repeats per route (alternating)")
    ap.add_argument("--out", type=Path, help="write the markdown tables here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lines = [f"CPU: {cpu_summary()}; torch {torch.__version__}, bf16, {args.threads} thread(s), median of "
             f"{args.steps} alternating repeats; ms (speed-up over the explicit form); bold: the route training "
             "takes", "",
             "| what | " + " | ".join(ROUTES) + " |", "|---|" + "---|" * len(ROUTES)]
    cases = [(f"attention fwd+bwd, 896 x {128 // d} heads of {d} x 42 x 42", attention_call(896, 128 // d, 42, d),
              d) for d in (4, 8, 16, 32)]
    cases += [(f"attention fwd+bwd, 32 x 8 heads of 64 x {n} x {n} (Informer's width)", attention_call(32, 8, n, 64),
               64) for n in (48, 96)]
    cases.append(("PatchTST-style step (d_model 128, 16 heads of 8), batch 128 x 7 channels", patchtst_step(), 8))
    for label, step, head_dim in cases:
        res = alternate(step, head_dim, args.steps)
        taken = taken_route(head_dim)
        cells = [f"{'**' * (n == taken)}{1e3 * s:.0f} ms ({res['explicit'] / s:.2f}x){'**' * (n == taken)}"
                 for n, s in res.items()]
        add_row(lines, label, cells)
    finish(lines, args.out)


if __name__ == "__main__":
    main()
