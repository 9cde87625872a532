"""Seconds per training step and per epoch (train + val + test) of Informer at the paper's default config on ETTh1,
for ProbSparse (both samplings) and full attention, eager and under torch.compile / bf16 autocast; peak RSS.
Each variant runs in a fresh process.

Epoch time = steps per epoch x median step time + one no_grad pass over the validation and test windows (a compiled
model does one validation pass first, so that compilation is not counted; a bf16 variant is timed per step only).

    python benchmarks/train_speed.py --threads 2 --steps 12
"""

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, resource, statistics, sys, time, torch
import torch.nn.functional as F
from sparsecast.data import DataConfig, prepare_data
from sparsecast.models import Informer, InformerConfig
from sparsecast.training import evaluate_loss
attn, sampling, threads, steps, features, compile, bf16 = json.loads(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(0)
data = prepare_data(DataConfig(data="ETTh1", features=features, seq_len=96, label_len=48, pred_len=24))
C = len(data.columns)
kw = {"sampling": sampling} if attn == "probsparse" else {}
model = Informer(InformerConfig(enc_in=C, dec_in=C, c_out=len(data.target_columns), attn=attn, **kw))
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
runner = torch.compile(model) if compile else model
skip = 3 if compile else 1
loader = data.splits["train"].loader(32, shuffle=True)
times = []
for i, batch in enumerate(loader):
    if i >= steps + skip:
        break
    t = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = F.mse_loss(runner(**batch.inputs()).float(), batch.y)
    opt.zero_grad(); loss.backward(); opt.step()
    times.append(time.perf_counter() - t)
step = statistics.median(times[skip:])
n_steps = len(loader)
evaluation = float("nan")
if not bf16:
    if compile:
        evaluate_loss(runner, data.splits["val"].loader(256))
    t = time.perf_counter()
    evaluate_loss(runner, data.splits["val"].loader(256)); evaluate_loss(runner, data.splits["test"].loader(256))
    evaluation = time.perf_counter() - t
print(json.dumps({"step_s": step, "steps_per_epoch": n_steps, "train_epoch_s": step * n_steps,
                  "val_test_s": evaluation, "epoch_s": step * n_steps + evaluation,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


VARIANTS = {  # label: (attn, sampling, compile, bf16)
    "full": ("full", None, False, False),
    "probsparse per_query": ("probsparse", "per_query", False, False),
    "probsparse shared": ("probsparse", "shared", False, False),
    "full compiled": ("full", None, True, False),
    "probsparse shared compiled": ("probsparse", "shared", True, False),
    "probsparse shared bf16": ("probsparse", "shared", False, True),
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--features", default="M")
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated labels (default: all)")
    a = p.parse_args()
    print(f"ETTh1 {a.features}, seq/label/pred 96/48/24, paper default model (d_model 512, 8 heads, 2+1 layers, "
          f"d_ff 2048), batch 32, eval batch 256 under no_grad, {a.threads} threads, median of {a.steps} steps, "
          f"THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE', 'unset')}")
    print("| attention | s/step | train s/epoch | val+test s | epoch s | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for label in a.variants.split(","):
        attn, sampling, compile, bf16 = VARIANTS[label]
        steps = min(a.steps, 3) if bf16 else a.steps
        arg = json.dumps([attn, sampling, a.threads, steps, a.features, compile, bf16])
        res = subprocess.run([sys.executable, "-c", CHILD, arg], capture_output=True, text=True)
        if res.returncode:
            print(f"| {label} | failed: {res.stderr.strip().splitlines()[-1]} | | | | |", flush=True)
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"| {label} | {r['step_s']:.2f} | {r['train_epoch_s']:.0f} | {r['val_test_s']:.0f} | "
              f"{r['epoch_s']:.0f} | {r['peak_rss_mib']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
