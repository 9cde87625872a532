"""Training-step time with our CPU dropout (`nn/dropout.py`, packed 16-bit random lanes) against torch's native
dropout, in one process, alternating step by step, so both see the same machine load. Reports the median step of
each, their ratio, and the CPU's flags.

    python benchmarks/dropout_speed.py --threads 1 --steps 7 --out benchmarks/results/dropout_speed.md
"""

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import sparsecast.nn.dropout as dropout_module
from sparsecast.models import Informer, InformerConfig
from sparsecast.models.longpatch import LongPatch, LongPatchConfig
from sparsecast.training.precision import cpu_summary

FAST = dropout_module.dropout


def native(x, p, training=True):
    return F.dropout(x, p, training)


def longpatch_step(channels: int, freq: str):
    model = LongPatch(LongPatchConfig(enc_in=channels, c_out=channels, seq_len=336, pred_len=96, freq=freq))
    x, y = torch.randn(128, 336, channels), torch.randn(128, 96, channels)
    origin = torch.randint(0, 10 ** 6, (128,))
    return model, lambda: F.mse_loss(model(x, None, None, origin), y)


def informer_step():
    model = Informer(InformerConfig(enc_in=7, dec_in=7, c_out=7, seq_len=96, label_len=48, pred_len=24))
    x, x_mark, future_mark = torch.randn(32, 96, 7), torch.randn(32, 96, 4), torch.randn(32, 24, 4)
    y = torch.randn(32, 24, 7)
    return model, lambda: F.mse_loss(model(x, x_mark, future_mark), y)


SETTINGS = {  # label: (model, loss closure); batch sizes are the recipes'
    "longpatch ETTh1 M 336/96, batch 128 (7 channels, dropout 0.3)": lambda: longpatch_step(7, "h"),
    "longpatch weather M 336/96, batch 128 (21 channels, dropout 0.3)": lambda: longpatch_step(21, "10min"),
    "informer M 96/48/24, batch 32 (paper defaults, dropout 0.05)": informer_step,
}


def time_steps(build, steps: int) -> dict[str, float]:
    torch.manual_seed(0)
    model, loss_fn = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, foreach=True)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()

    times = {"ours": [], "native": []}
    for warm in (FAST, native):
        dropout_module.dropout = warm
        step()
    for _ in range(steps):
        for name, fn in (("ours", FAST), ("native", native)):
            dropout_module.dropout = fn
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    dropout_module.dropout = FAST
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=7, help="timed steps per path (alternating)")
    ap.add_argument("--out", type=Path, help="write the markdown table here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lines = [f"CPU: {cpu_summary()}; torch {torch.__version__}, fp32, {args.threads} thread(s), "
             f"median of {args.steps} alternating steps", "",
             "| model, setting | native dropout s/step | ours s/step | native / ours |", "|---|---|---|---|"]
    for label, build in SETTINGS.items():
        med = time_steps(build, args.steps)
        lines.append(f"| {label} | {med['native']:.3f} | {med['ours']:.3f} | {med['native'] / med['ours']:.2f}x |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
