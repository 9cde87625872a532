"""A run killed with SIGKILL mid-training resumes from its last epoch checkpoint and ends bit-identical."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from torch import nn

from helpers import write_csv
from sparsecast.errors import CheckpointError
from sparsecast.training.checkpoint import TrainState, load_checkpoint, save_checkpoint


def _args(csv, out):
    return [sys.executable, "-m", "sparsecast.cli", "train", "--data", str(csv), "--features", "M",
            "--seq-len", "48", "--label-len", "24", "--pred-len", "12", "--d-model", "32", "--n-heads", "2",
            "--d-ff", "64", "--epochs", "4", "--patience", "10", "--dropout", "0.1", "--threads", "1",
            "--batch-size", "16", "--no-progress", "--out", str(out)]


def test_kill_minus_nine_then_resume_is_bit_identical(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=1500)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_args(csv, tmp_path / "whole"), check=True, capture_output=True, env=env, timeout=900)

    run = tmp_path / "killed"
    proc = subprocess.Popen(_args(csv, run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 600
    while not (run / "checkpoint.safetensors").exists():
        assert proc.poll() is None, "training ended before its first checkpoint"
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "metrics.json").exists(), "the run finished before it was killed"

    res = subprocess.run([sys.executable, "-m", "sparsecast.cli", "train", "--resume", str(run)],
                         capture_output=True, text=True, env=env, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resuming after epoch" in res.stdout
    whole = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    resumed = json.loads((run / "metrics.json").read_text())
    assert resumed["test"] == whole["test"]
    history = [json.loads((d / "history.json").read_text()) for d in (tmp_path / "whole", run)]
    assert history[0]["val_loss"] == history[1]["val_loss"]
    assert not (run / "checkpoint.safetensors").exists()  # removed once the run completed


def test_checkpoint_round_trip_and_truncation(tmp_path):
    model = nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = TrainState(epoch=2, best_loss=0.5, best_state=model.state_dict(), bad_epochs=1)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, opt, state)
    expected_rng = torch.rand(3)
    other = nn.Linear(3, 2)
    other_opt = torch.optim.Adam(other.parameters(), lr=0.1)
    restored = load_checkpoint(path, other, other_opt)
    assert restored.epoch == 2 and restored.bad_epochs == 1 and restored.best_loss == 0.5
    torch.testing.assert_close(other.weight, model.weight)
    torch.testing.assert_close(other_opt.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    torch.testing.assert_close(torch.rand(3), expected_rng)  # the RNG continues where the checkpoint left it
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path, other, other_opt)


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, capsys):
    from sparsecast.cli import main
    csv = write_csv(tmp_path / "s.csv", n=300)
    out = tmp_path / "done"
    assert main(["train", "--data", str(csv), "--seq-len", "24", "--label-len", "12", "--pred-len", "6",
                 "--d-model", "16", "--n-heads", "2", "--d-ff", "32", "--epochs", "1", "--no-progress",
                 "--out", str(out)]) == 0
    assert main(["train", "--resume", str(out)]) == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err
