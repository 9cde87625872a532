"""Data-parallel training under torchrun with 2 CPU processes (gloo) follows the single-process run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import write_csv

TORCHRUN = Path(sys.executable).parent / "torchrun"


def _train(csv, out, *extra, ddp=False):
    args = ["-m", "sparsecast.cli", "train", "--model", "informer", "--data", str(csv), "--features", "M",
            "--seq-len", "24", "--label-len", "12", "--pred-len", "6", "--d-model", "16", "--n-heads", "2",
            "--d-ff", "32", "--epochs", "3", "--dropout", "0", "--batch-size", "16", "--threads", "1", "--no-progress",
            "--out", str(out), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if ddp:
        cmd = [str(TORCHRUN), "--nproc-per-node", "2", "--master-port", str(29500 + os.getpid() % 500), *args,
               "--ddp"]
    else:
        cmd = [sys.executable, *args]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads((out / "history.json").read_text())


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun not available")
@pytest.mark.parametrize("distil,rtol", [(False, 1e-3), pytest.param(True, 0.05, marks=pytest.mark.slow)])
def test_two_process_run_matches_single_process(tmp_path, distil, rtol):
    csv = write_csv(tmp_path / "s.csv", n=499)  # 320 training windows: 20 full batches of 16, nothing skipped
    flag = "--distil" if distil else "--no-distil"
    single = _train(csv, tmp_path / "single", flag)
    multi = _train(csv, tmp_path / "multi", flag, ddp=True)
    assert multi["val_loss"] == pytest.approx(single["val_loss"], rel=rtol)
    files = sorted(p.name for p in (tmp_path / "multi").iterdir())
    assert files.count("model.safetensors") == 1 and not [f for f in files if f.startswith(".")]


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun not available")
def test_longpatch_under_ddp_starts_from_the_same_fit_on_every_process(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=499)
    single = _train(csv, tmp_path / "single", "--model", "longpatch", "--epochs", "1", "--patch-len", "8",
                    "--patch-stride", "4", "--e-layers", "1", "--precision", "fp32")
    multi = _train(csv, tmp_path / "multi", "--model", "longpatch", "--epochs", "1", "--patch-len", "8",
                   "--patch-stride", "4", "--e-layers", "1", "--precision", "fp32", ddp=True)
    assert single["initial_val_loss"] is not None and multi["initial_val_loss"] is None
    assert multi["val_loss"][0] == pytest.approx(single["val_loss"][0], rel=0.05)
    files = sorted(p.name for p in (tmp_path / "multi").iterdir())
    assert files.count("model.safetensors") == 1 and not [f for f in files if f.startswith(".")]
