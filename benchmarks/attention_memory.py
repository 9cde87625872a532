"""Peak memory of every attention kernel at one length, forward and forward+backward, against full attention.

Each measurement runs in a fresh subprocess: peak RSS after the call minus RSS once the inputs exist.

    python benchmarks/attention_memory.py --length 4096
"""

import argparse
import json
import subprocess
import sys

KERNELS = {
    "full (SDPA)": ("full", {}),
    "dense masked reference": ("dense", {}),
    "probsparse per_query": ("probsparse", {"sampling": "per_query"}),
    "probsparse shared": ("probsparse", {"sampling": "shared"}),
    "strided": ("strided", {}),
    "fixed (c=8)": ("fixed", {"c": 8}),
}

CHILD = r"""
import json, resource, sys, torch
from sparsecast.attention import build_attention, dense_attention
name, params, B, H, L, D, causal, backward = json.loads(sys.argv[1])
torch.set_num_threads(2)
q, k, v = (torch.randn(B, H, L, D, requires_grad=backward) for _ in range(3))
kernel = (lambda q, k, v, causal: dense_attention(q, k, v)) if name == "dense" else build_attention(name, **params)
small = [t[:, :, :64].detach().requires_grad_(backward) for t in (q, k, v)]
kernel(*small, causal=causal)  # warm up lazily loaded code paths at a tiny size
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = kernel(q, k, v, causal=causal)
if backward:
    out.sum().backward()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mib": (peak - base) / 1024}))
"""


def measure(name, params, B, H, L, D, causal, backward):
    arg = json.dumps([name, params, B, H, L, D, causal, backward])
    res = subprocess.run([sys.executable, "-c", CHILD, arg], capture_output=True, text=True)
    if res.returncode:
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])["peak_mib"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--length", type=int, default=4096)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--causal", action="store_true")
    a = p.parse_args()
    inputs_mib = 3 * a.batch * a.heads * a.length * a.head_dim * 4 / 2**20
    print(f"L={a.length} B={a.batch} H={a.heads} D={a.head_dim} causal={a.causal} fp32; q,k,v take {inputs_mib:.0f} MiB")
    print("| kernel | forward peak MiB | fwd+bwd peak MiB | fwd+bwd vs full |")
    print("|---|---|---|---|")
    rows, full = {}, None
    for label, (name, params) in KERNELS.items():
        fwd = measure(name, params, a.batch, a.heads, a.length, a.head_dim, a.causal, False)
        both = measure(name, params, a.batch, a.heads, a.length, a.head_dim, a.causal, True)
        full = both if name == "full" else full
        rows[label] = {"forward_mib": fwd, "fwd_bwd_mib": both}
        ratio = f"{both / full:.2f}x" if both and full else "-"
        print(f"| {label} | {fwd:.0f} | {both:.0f} | {ratio} |" if fwd and both else f"| {label} | failed | | |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
