"""Training-step time of our CPU paths against torch's plain ones, in one process, alternating step by step, so all
paths see the same machine load:

- "torch": torch's native dropout, the plain feed-forward block;
- "packed dropout": our dropout mask (`nn/dropout.py`, four 16-bit random lanes per 64-bit draw), plain block;
- "default": the packed mask and the feed-forward block in row chunks (`nn/feed_forward.py`), what training runs.

Reports the median step of each path, its speed-up over "torch", the activations each keeps for the backward pass,
and the CPU's flags.

    python benchmarks/step_speed.py --threads 1 --steps 7 --out benchmarks/results/step_speed.md
"""

import argparse
import contextlib
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import sparsecast.nn.dropout as dropout_module
from sparsecast.models import Informer, InformerConfig
from sparsecast.models.longpatch import LongPatch, LongPatchConfig
from sparsecast.nn import FeedForward
from sparsecast.training.precision import cpu_summary

PACKED = dropout_module.dropout
CHUNKED = FeedForward.chunked


def native(x, p, training=True):
    return F.dropout(x, p, training)


def plain_block(self, x):
    return False


PATHS = {  # name: (dropout function, FeedForward.chunked)
    "torch": (native, plain_block),
    "packed dropout": (PACKED, plain_block),
    "default": (PACKED, CHUNKED),
}


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


@contextlib.contextmanager
def path(name: str):
    drop, chunked = PATHS[name]
    dropout_module.dropout, FeedForward.chunked = drop, chunked
    try:
        yield
    finally:
        dropout_module.dropout, FeedForward.chunked = PACKED, CHUNKED


def saved_mib(loss_fn) -> float:
    """MiB of the tensors autograd keeps for the backward pass of one loss (each storage counted once)."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_fn()
    return sum(seen.values()) / 2 ** 20


def time_steps(build, steps: int) -> dict[str, tuple[float, float]]:
    """Per path: (median seconds per step, MiB saved for the backward pass)."""
    torch.manual_seed(0)
    model, loss_fn = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()

    times, saved = {name: [] for name in PATHS}, {}
    for name in PATHS:  # warm-up, and the saved activations of each path
        with path(name):
            step()
            saved[name] = saved_mib(loss_fn)
    for _ in range(steps):
        for name in PATHS:
            with path(name):
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(t), saved[name]) for name, t in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=7, help="timed steps per path (alternating)")
    ap.add_argument("--out", type=Path, help="write the markdown table here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = list(PATHS)
    lines = [f"CPU: {cpu_summary()}; torch {torch.__version__}, fp32, {args.threads} thread(s), "
             f"median of {args.steps} alternating steps; s/step (speed-up over torch), MiB kept for the backward", "",
             "| model, setting | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, build in SETTINGS.items():
        res = time_steps(build, args.steps)
        base = res["torch"][0]
        cells = [f"{s:.3f} s ({base / s:.2f}x), {mib:.0f} MiB" for s, mib in res.values()]
        add_row(lines, label, cells)
    finish(lines, args.out)


def add_row(lines: list[str], label: str, cells: list[str]) -> None:
    """Append a markdown row to ``lines`` and print it at once (a long benchmark shows its rows as they come)."""
    lines.append(f"| {label} | " + " | ".join(cells) + " |")
    print(lines[-1], flush=True)


def finish(lines: list[str], out: Path | None) -> None:
    """Print the whole table and write it to ``out`` (when given)."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        out.write_text(text)


if __name__ == "__main__":
    main()
