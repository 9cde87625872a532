"""One training epoch (train + validation + test) of `sparsecast train`, the default path against plain fp32 eager.

Each run is a whole `sparsecast train --epochs 1` process, so data preparation, evaluation and saving are counted as
a user pays for them. The default path is `--precision auto` (bf16 autocast where the CPU has native bf16, fp32
elsewhere); the in-run baseline is the same model and data under `--precision fp32`. Both are measured in the same
run on the same machine, alternating, and the ratio of medians is reported with the CPU's flags. ``--profile``
also writes the top operators by self CPU time of a few training steps of the default path (torch.profiler).

    python benchmarks/train_speed.py --repeats 1 --profile benchmarks/results/train_speed_profile.md
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sparsecast.training.precision import NARROW_MAX, cpu_summary, resolve_precision

SETTINGS = {  # label: the flags of `sparsecast train` beyond --epochs 1
    "informer M 96/48/24 (paper defaults)": ["--model", "informer", "--features", "M", "--seq-len", "96",
                                             "--label-len", "48", "--pred-len", "24"],
    "longpatch M 336/96 (make run)": ["--model", "longpatch", "--features", "M", "--seq-len", "336",
                                      "--pred-len", "96"],
}

PROFILE = r"""
import sys, torch
import torch.nn.functional as F
from torch.profiler import profile, ProfilerActivity
from sparsecast.data import DataConfig, prepare_data
from sparsecast.models import Informer, InformerConfig
from sparsecast.training.trainer import autocast
torch.set_num_threads(int(sys.argv[1])); torch.manual_seed(0)
bf16 = sys.argv[2] == "bf16"
data = prepare_data(DataConfig(data="ETTh1", features="M", seq_len=96, label_len=48, pred_len=24))
C = len(data.columns)
model = Informer(InformerConfig(enc_in=C, dec_in=C, c_out=C))
opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
batches = iter(data.splits["train"].loader(32, shuffle=True))
def step():
    batch = next(batches)
    with autocast(bf16, "cpu"):
        loss = F.mse_loss(model(**batch.inputs()).float(), batch.target)
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
for _ in range(2):
    step()
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(5):
        step()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=50))
"""


def run_once(flags: list[str], precision: str, threads: int, root: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "sparsecast.cli", "train", "--data", "ETTh1", "--root-path", root, *flags,
               "--epochs", "1", "--precision", precision, "--threads", str(threads), "--no-progress",
               "--out", str(out)]
        start = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if res.returncode:
            raise RuntimeError(res.stderr.strip().splitlines()[-1])
        metrics = json.loads((out / "metrics.json").read_text())
    return {"wall_s": wall, "epoch_s": metrics["seconds"]["per_epoch"][0], "test_s": metrics["seconds"]["test"],
            "test_mse": metrics["test"]["mse"], "precision": metrics["precision"]}


# The official code names np.Inf, which NumPy 2 removed: the alias is restored, nothing else is changed.
OFFICIAL_SHIM = ("import sys, runpy, numpy; numpy.Inf = numpy.inf; script = sys.argv[1]; sys.argv = sys.argv[1:]; "
                 "runpy.run_path(script, run_name='__main__')")


def run_official(code: Path, threads: int, root: str) -> dict:
    """One epoch of the official Informer code on ETTh1 M 96/48/24 at its defaults, as a whole process. It runs in a
    scratch folder, where its checkpoints and results go: the checkout is left as it was."""
    code = code.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-u", "-c", OFFICIAL_SHIM, str(code / "main_informer.py"), "--model", "informer",
               "--data", "ETTh1", "--root_path", str(Path(root).resolve()) + "/", "--features", "M", "--seq_len",
               "96", "--label_len", "48", "--pred_len", "24", "--train_epochs", "1", "--itr", "1",
               "--checkpoints", str(Path(tmp) / "checkpoints")]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONPATH": str(code)}
        start = time.perf_counter()
        res = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
    if res.returncode:
        raise RuntimeError(f"the official code failed: {(res.stderr.strip().splitlines() or ['no message'])[-1]}")
    epoch = float(re.search(r"Epoch: 1 cost time: ([0-9.]+)", res.stdout).group(1))
    mse = float(re.findall(r"mse:([0-9.]+)", res.stdout)[-1])
    return {"wall_s": wall, "epoch_s": epoch, "test_mse": mse}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1, help="runs of each path (medians reported)")
    p.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated labels (default: all)")
    p.add_argument("--root-path", default="../shared/data")
    p.add_argument("--profile", default=None, help="also write a torch.profiler top-ops table to this file")
    p.add_argument("--official", type=Path, default=None,
                   help="a checkout of the official Informer2020 code: also time its epoch (Informer setting)")
    a = p.parse_args()
    default, why = resolve_precision("auto")
    print(f"CPU {cpu_summary()}; the default precision here is {default} for models wider than {NARROW_MAX} ({why}); "
          f"{a.threads} threads; median of {a.repeats} run(s) per path")
    print("| model, setting | path | whole process s | train+val s (epoch) | test s | test MSE |")
    print("|---|---|---|---|---|---|")
    for label in a.settings.split(","):
        results = {"auto": [], "fp32": []}
        for _ in range(a.repeats):
            for path in results:
                results[path].append(run_once(SETTINGS[label], path, a.threads, a.root_path))
        med = {path: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "epoch_s", "test_s", "test_mse")}
               for path, rs in results.items()}
        for path, m in med.items():
            name = f"default ({results[path][0]['precision']})" if path == "auto" else "plain fp32 eager"
            print(f"| {label} | {name} | {m['wall_s']:.1f} | {m['epoch_s']:.1f} | {m['test_s']:.1f} | "
                  f"{m['test_mse']:.4f} |", flush=True)
        d, f = med["auto"], med["fp32"]
        print(f"| {label} | ratio fp32 / default | {f['wall_s'] / d['wall_s']:.2f}x | "
              f"{f['epoch_s'] / d['epoch_s']:.2f}x | {f['test_s'] / d['test_s']:.2f}x | "
              f"MSE {100 * (d['test_mse'] / f['test_mse'] - 1):+.1f}% |", flush=True)
        if a.official and label.startswith("informer"):
            runs = [run_official(a.official, a.threads, a.root_path) for _ in range(a.repeats)]
            o = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "epoch_s", "test_mse")}
            print(f"| {label} | official code (fp32; epoch column: its training loop alone) | {o['wall_s']:.1f} | "
                  f"{o['epoch_s']:.1f} | - | {o['test_mse']:.4f} |")
            print(f"| {label} | ratio official / default | {o['wall_s'] / d['wall_s']:.2f}x | - | - | "
                  f"MSE {100 * (d['test_mse'] / o['test_mse'] - 1):+.1f}% |", flush=True)
    if a.profile:
        out = []
        for precision in dict.fromkeys([default, "fp32"]):
            res = subprocess.run([sys.executable, "-c", PROFILE, str(a.threads), precision], capture_output=True,
                                 text=True, check=True)
            out.append(f"## Informer M 96/48/24 training step, batch 32, {precision}, 5 steps\n\n```\n"
                       f"{res.stdout.strip()}\n```\n")
        Path(a.profile).write_text(f"# Top operators by self CPU time (torch.profiler)\n\nCPU {cpu_summary()}, "
                                   f"{a.threads} threads. Command: `python benchmarks/train_speed.py --profile "
                                   f"{a.profile}`\n\n" + "\n".join(out))
        print(f"profile written to {a.profile}")


if __name__ == "__main__":
    main()
