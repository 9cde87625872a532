"""Step time and peak memory of the Sparse Transformer at a long context: strided and fixed against full attention,
with and without recomputation. Each configuration runs in a fresh process (peak RSS is per process).

    python benchmarks/lm_long_context.py --context 4096
"""

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, statistics, sys, time, torch
import torch.nn.functional as F
from sparsecast.models import SparseTransformer, SparseTransformerConfig
attn, recompute, context, threads, steps = json.loads(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = SparseTransformerConfig(shape=(context,), n_layers=4, d_model=128, n_heads=4, attn=attn, recompute=recompute)
model = SparseTransformer(cfg)
opt = torch.optim.Adam(model.parameters(), 1e-3)
x = torch.randint(0, 256, (1, context + 1))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for _ in range(steps):
    t = time.perf_counter()
    loss = F.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
    opt.zero_grad(); loss.backward(); opt.step()
    times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"step_s": statistics.median(times[1:]), "peak_mib": (peak - base) / 1024}))
"""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--context", type=int, default=4096)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=6)
    a = p.parse_args()
    print(f"context {a.context}, batch 1, 4 layers, d_model 128, 4 heads, {a.threads} threads; "
          f"median of {a.steps - 1} steps after one warm-up; peak RSS growth over the model and optimizer state")
    print("| attention | recompute | step time s | vs full | peak MiB | vs full |")
    print("|---|---|---|---|---|---|")
    results = {}
    for recompute in (False, True):
        for attn in ("full", "strided", "fixed"):
            res = subprocess.run([sys.executable, "-c", CHILD, json.dumps([attn, recompute, a.context, a.threads,
                                                                           a.steps])],
                                 capture_output=True, text=True)
            if res.returncode:
                print(f"| {attn} | {recompute} | failed: {res.stderr.strip().splitlines()[-1]} | | | |")
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            results[(attn, recompute)] = r
            full = results.get(("full", recompute), r)
            print(f"| {attn} | {'yes' if recompute else 'no'} | {r['step_s']:.3f} | "
                  f"{r['step_s'] / full['step_s']:.2f}x | {r['peak_mib']:.0f} | {r['peak_mib'] / full['peak_mib']:.2f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
