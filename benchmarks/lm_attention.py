"""Sparse Transformer on real data at one fixed budget: strided, fixed and full attention side by side.

Runs each configuration as its own `sparsecast lm train` process (single-threaded, `--jobs` at a time) and writes
a Markdown table of test bits per byte (tinyshakespeare, contexts 256 and 1024) and bits per dimension (digits,
full vs strided with 2-D vs 1-D position embeddings), plus a generated sample.

    python benchmarks/lm_attention.py --root-path ../shared/data --out benchmarks/results/lm
"""

import argparse
import json
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MODEL = ["--n-layers", "4", "--d-model", "128", "--n-heads", "4"]


def runs(args) -> dict[str, list[str]]:
    out = {}
    for context, batch in ((256, 16), (1024, 4)):  # equal tokens per step
        for attn in ("full", "strided", "fixed"):
            out[f"text_{context}_{attn}"] = [
                "--data", "tinyshakespeare", "--root-path", args.root_path, "--attn", attn, "--context", str(context),
                "--batch-size", str(batch), "--steps", str(args.steps), "--warmup", str(args.steps // 10),
                "--eval-every", str(args.steps), "--eval-batches", "10", *MODEL]
    for name, extra in (("full_2d", ["--attn", "full"]), ("strided_2d", ["--attn", "strided", "--stride", "8"]),
                        ("strided_1d", ["--attn", "strided", "--stride", "8", "--flat-positions"])):
        out[f"digits_{name}"] = ["--data", "digits", "--batch-size", "32", "--steps", str(args.digit_steps),
                                 "--warmup", "50", "--eval-every", str(args.digit_steps), *extra, *MODEL]
    return out


def run_one(name: str, flags: list[str], out: Path) -> tuple[str, float]:
    run_dir = out / "runs" / name
    if (run_dir / "metrics.json").exists():
        return name, 0.0
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "sparsecast.cli", "lm", "train", *flags, "--threads", "1", "--no-progress",
           "--seed", "0", "--lr", "1e-3", "--out", str(run_dir)]
    with open(out / f"{name}.log", "w") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
    return name, time.perf_counter() - start


def table(out: Path, args) -> str:
    def metric(name):
        path = out / "runs" / name / "metrics.json"
        return json.loads(path.read_text()) if path.exists() else None

    lines = ["# Sparse Transformer: strided / fixed / full at one training budget", "",
             f"Machine: {platform.machine()}, 1 torch thread per run, {args.jobs} runs at a time. "
             f"Model: 4 layers, d_model 128, 4 heads (~0.9M parameters), Adam lr 1e-3 with warm-up + cosine, "
             f"seed 0. Text: {args.steps} steps, 4096 tokens per step (batch 16 x 256 or 4 x 1024), "
             f"tinyshakespeare split 90/5/5; test bits per byte over every test window.", "",
             "s/step and train time depend on what else the machine ran at the time (runs that shared the CPU with "
             "another training are slower); compare bits, not times, across rows. At equal steps the sparse models "
             "learn faster here: local attention is a useful bias early in training.", "",
             "| data | context | attention | test bits/byte | vs full | s/step | train time |", "|---|---|---|---|---|---|---|"]
    for context in (256, 1024):
        full = metric(f"text_{context}_full")
        for attn in ("full", "strided", "fixed"):
            m = metric(f"text_{context}_{attn}")
            if not m:
                lines.append(f"| tinyshakespeare | {context} | {attn} | not run | | | |")
                continue
            bpb = m["test"]["bits_per_byte"]
            rel = f"{100 * (bpb / full['test']['bits_per_byte'] - 1):+.1f}%" if full else ""
            lines.append(f"| tinyshakespeare | {context} | {attn} | {bpb:.3f} | {rel} | "
                         f"{m['seconds_per_step']:.3f} | {m['train_seconds'] / 60:.1f} min |")
    lines += ["", f"Digits (sklearn 8x8, 17 levels, 64 dimensions): {args.digit_steps} steps of batch 32.", "",
              "| attention | position embedding | test bits/dim | s/step |", "|---|---|---|---|"]
    for name, attn, pos in (("full_2d", "full", "row + column"), ("strided_2d", "strided (l=8)", "row + column"),
                            ("strided_1d", "strided (l=8)", "1-D")):
        m = metric(f"digits_{name}")
        lines.append(f"| {attn} | {pos} | {m['test']['bits_per_dim']:.3f} | {m['seconds_per_step']:.3f} |" if m
                     else f"| {attn} | {pos} | not run | |")
    sample_run = out / "runs" / "text_256_strided"
    if (sample_run / "metrics.json").exists():
        from sparsecast.lm import sample_lm
        text = sample_lm(sample_run, "ROMEO:", 400, temperature=0.8, seed=0)
        lines += ["", "Sample from the strided model at context 256 (prompt `ROMEO:`, temperature 0.8, seed 0):", "",
                  "```", text, "```"]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root-path", default="../shared/data")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--digit-steps", type=int, default=1500)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--only", default=None, help="comma-separated run names")
    p.add_argument("--out", default="benchmarks/results/lm")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    todo = runs(args)
    if args.only:
        todo = {k: v for k, v in todo.items() if k in args.only.split(",")}
    with ThreadPoolExecutor(args.jobs) as pool:
        for name, secs in pool.map(lambda kv: run_one(kv[0], kv[1], out), todo.items()):
            print(f"{name}: {secs:.0f}s", flush=True)
            (out / "lm_attention.md").write_text(table(out, args))
    (out / "lm_attention.md").write_text(table(out, args))
    print((out / "lm_attention.md").read_text())


if __name__ == "__main__":
    main()
