"""A run killed with SIGKILL mid-training resumes from its last epoch checkpoint and ends bit-identical."""

import functools
import json
import os
import re
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
    assert resumed["seconds"]["train_and_val"] == sum(history[1]["epoch_seconds"])  # all epochs, not only this call's
    assert not (run / "checkpoint.safetensors").exists()  # removed once the run completed
    assert json.loads((run / "config.json").read_text())["refit"] is True  # as the run set out (a CSV: refit)
    assert (run / "final" / "series.json").is_file()


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
    other_opt = torch.optim.Adam(other.parameters(), lr=0.1, fused=True)  # the saved one was foreach's default
    restored = load_checkpoint(path, other, other_opt)
    assert other_opt.param_groups[0]["fused"] is True  # the update as built now; hyperparameters as saved
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
    assert main(["train", "--resume", str(out)]) == 0  # finished, refit too: nothing to do
    assert "nothing to resume" in capsys.readouterr().out
    (out / "metrics.json").unlink()  # as if killed before its first checkpoint
    assert main(["train", "--resume", str(out)]) == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err


class DropoutNet(nn.Module):
    """A forecaster whose result depends on the dropout RNG; ``stop_at`` raises in that training call (a kill),
    ``stop_at_eval`` in that evaluation call."""

    def __init__(self, stop_at: int | None = None, stop_at_eval: int | None = None):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.3), nn.Linear(16, 2))
        self.calls = {True: 0, False: 0}  # by self.training
        self.stop_at = {True: stop_at, False: stop_at_eval}

    def forward(self, x, x_mark, future_mark, origin=None):
        self.calls[self.training] += 1
        if self.calls[self.training] == self.stop_at[self.training]:
            raise KeyboardInterrupt
        return self.net(x[..., 0]).unsqueeze(-1)  # (B, 2, 1)


def _fit_windows(model, checkpoint, resume=False, log=None, checkpoint_minutes=0.0, lradj="type1"):
    from sparsecast.data.windows import WindowSet
    from sparsecast.training import TrainConfig, fit
    g = torch.Generator().manual_seed(1)
    series = torch.randn(60, 1, generator=g).cumsum(0)
    windows = WindowSet(series, series, series, seq_len=8, pred_len=2)
    cfg = TrainConfig(epochs=3, batch_size=5, lr=1e-2, patience=5, progress=False,
                      checkpoint_minutes=checkpoint_minutes, lradj=lradj)
    return fit(model, windows.loader(5, shuffle=True, seed=3), windows.loader(16), cfg,
               log=log or (lambda _: None), checkpoint=checkpoint, resume=resume)


@pytest.mark.parametrize("lradj", ["type1", "onecycle"])  # onecycle: the rate and beta1 set at every step
@pytest.mark.parametrize("kill, resumed_at", [
    ({"stop_at": 16}, "at step 5 of epoch 2"),  # 11 training batches per epoch
    ({"stop_at_eval": 5}, "at the validation of epoch 2"),  # 4 validation batches per epoch
])
def test_killed_inside_an_epoch_resumes_at_that_step_and_ends_the_same(tmp_path, kill, resumed_at, lradj):
    fit_run = functools.partial(_fit_windows, lradj=lradj)
    torch.manual_seed(0)
    whole = DropoutNet()
    expected = fit_run(whole, tmp_path / "whole.safetensors")

    torch.manual_seed(0)
    ckpt = tmp_path / "killed.safetensors"
    with pytest.raises(KeyboardInterrupt):
        fit_run(DropoutNet(**kill), ckpt)
    _assert_resumes_the_same(fit_run, ckpt, resumed_at, whole, expected)


def _assert_resumes_the_same(fit_run, ckpt, resumed_at, whole, expected):
    """``fit_run`` resumed from ``ckpt`` says where it resumes and ends as the unstopped run (``whole``) did."""
    logs = []
    torch.manual_seed(123)  # the resumed run takes its RNG from the checkpoint, not from here
    resumed_model = DropoutNet()
    resumed = fit_run(resumed_model, ckpt, resume=True, log=logs.append)
    assert logs[0] == f"resuming {resumed_at} of 3"
    assert resumed.train_loss == expected.train_loss and resumed.val_loss == expected.val_loss
    assert resumed.lr == expected.lr  # each epoch's rate as recorded, resumed or not
    for a, b in zip(resumed_model.parameters(), whole.parameters()):
        assert torch.equal(a, b)


class SignallingNet(DropoutNet):
    """DropoutNet that sends this process ``sig`` ``times`` times during training call ``at`` (or, with ``in_eval``,
    evaluation call ``at``), as a user's Ctrl-C or a scheduler's SIGTERM would arrive."""

    def __init__(self, sig, at: int, in_eval: bool = False, times: int = 1):
        super().__init__()
        self.sig, self.at, self.in_eval, self.times = sig, at, in_eval, times

    def forward(self, x, x_mark, future_mark, origin=None):
        if self.training != self.in_eval and self.calls[self.training] + 1 == self.at:
            for _ in range(self.times):
                os.kill(os.getpid(), self.sig)
        return super().forward(x, x_mark, future_mark, origin)


def _fit_stoppable(model, checkpoint, resume=False, log=None):
    """``_fit_windows`` with periodic checkpoints off: only the stop writes one inside an epoch."""
    return _fit_windows(model, checkpoint, resume, log, checkpoint_minutes=60)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("at, in_eval, stopped, resumed_at", [
    (16, False, "after step 5 of epoch 2", "at step 6 of epoch 2"),  # 11 training batches per epoch
    (5, True, "while validating epoch 2", "at the validation of epoch 2"),  # 4 validation batches per epoch
])
def test_a_signal_stops_after_the_step_under_way_and_the_run_continues_exactly(tmp_path, sig, at, in_eval, stopped,
                                                                               resumed_at):
    from sparsecast.training.interrupt import Interrupted
    handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    torch.manual_seed(0)
    whole = DropoutNet()
    expected = _fit_stoppable(whole, tmp_path / "whole.safetensors")

    torch.manual_seed(0)
    ckpt, logs = tmp_path / "stopped.safetensors", []
    with pytest.raises(Interrupted, match=f"stopped by {sig.name} {stopped}, its checkpoint written"):
        _fit_stoppable(SignallingNet(sig, at, in_eval), ckpt, log=logs.append)
    assert any(line.startswith(f"{sig.name}: stopping after this step") for line in logs)
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == handlers  # restored
    _assert_resumes_the_same(_fit_stoppable, ckpt, resumed_at, whole, expected)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_stops_at_once(tmp_path, sig):
    from sparsecast.training.interrupt import Interrupted, Terminated
    handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    ckpt = tmp_path / "stopped.safetensors"
    with pytest.raises(Terminated if sig == signal.SIGTERM else KeyboardInterrupt) as stopped:
        _fit_stoppable(SignallingNet(sig, at=3, times=2), ckpt)
    assert not isinstance(stopped.value, Interrupted)  # not after the step: at once, with no checkpoint
    assert not ckpt.exists()
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == handlers


def test_sigterm_to_the_cli_writes_the_checkpoint_and_says_how_to_continue(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=1500)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = _args(csv, run) + ["--checkpoint-minutes", "60", "--no-refit"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:  # the first epoch done: the signal lands inside the second
        if line.startswith("epoch 1:"):
            break
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert re.search(r"sparsecast: stopped by SIGTERM (after step|while validating epoch) ", err)
    ckpt = run / "checkpoint.safetensors"
    assert f"its checkpoint written ({ckpt}); sparsecast train --resume {run} continues it" in err
    early = subprocess.run([sys.executable, "-m", "sparsecast.cli", "predict", str(run), "--input", str(csv)],
                           capture_output=True, text=True, env=env, timeout=300)  # nothing to predict with yet
    assert early.returncode != 0
    assert (f"{run} is a run stopped before its training finished (it has a checkpoint, no trained weights yet): "
            f"sparsecast train --resume {run} finishes it") in early.stderr
    res = subprocess.run([sys.executable, "-m", "sparsecast.cli", "train", "--resume", str(run)],
                         capture_output=True, text=True, env=env, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    assert re.search(r"resuming at (step|the validation of epoch) ", res.stdout)
    assert (run / "metrics.json").is_file() and not (run / "checkpoint.safetensors").exists()


def test_an_ignored_signal_stays_ignored():
    """A job started in the background by a shell ignores SIGINT: the Ctrl-C meant for the foreground must not
    stop it."""
    from sparsecast.training.interrupt import deferred_stop
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with deferred_stop(lambda _: None) as stop:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # this one is taken over
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
            assert not stop
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_gpu_s_random_state_travels_with_the_checkpoint(tmp_path, monkeypatch):
    """The CUDA generators' states are saved and restored where the same GPUs are there (a stand-in for torch.cuda
    here: the plumbing, not the device)."""
    states = [torch.arange(4, dtype=torch.uint8), torch.arange(4, 8, dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: states)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.extend)
    model = nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    save_checkpoint(tmp_path / "c.safetensors", model, opt, TrainState())
    load_checkpoint(tmp_path / "c.safetensors", model, opt)
    assert [s.tolist() for s in restored] == [s.tolist() for s in states]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # other GPUs: left as they are
    restored.clear()
    load_checkpoint(tmp_path / "c.safetensors", model, opt)
    assert restored == []


@pytest.mark.parametrize("argv, resume", [
    (["train", "--data", "my.csv", "--out", "runs/mine"], "; where its checkpoint was written, "
                                                          "sparsecast train --resume runs/mine continues it"),
    (["reproduce", "--table", "univariate"], "; where its checkpoint was written, the same command continues it "
                                                    "(finished cells are skipped)"),
    (["predict", "runs/mine", "--input", "my.csv"], ""),
])
def test_sigterm_outside_a_training_step_runs_cleanup_and_says_so(monkeypatch, capsys, argv, resume):
    """SIGTERM while a command loads data or scores its kept weights (no deferred stop active) raises where the
    process is, so its ``finally`` blocks run, and the CLI ends with one line and the status 143; before, Python's
    default ended the process with nothing said."""
    from sparsecast.cli import parser
    cleaned = []

    def command(args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)  # the handler raises before this returns
        finally:
            cleaned.append(args.command)

    name = {"train": "cmd_train", "reproduce": "cmd_reproduce", "predict": "cmd_predict"}[argv[0]]
    monkeypatch.setattr(parser, name, command)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    start = time.perf_counter()
    assert parser.main(argv) == 128 + signal.SIGTERM
    assert time.perf_counter() - start < 20
    assert cleaned == [argv[0]]
    assert capsys.readouterr().err == f"sparsecast: stopped by SIGTERM{resume}\n"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_sigterm_raises_leaves_a_handler_set_by_someone_else_and_a_distributed_run_alone(monkeypatch):
    from sparsecast.training.interrupt import sigterm_raises
    seen = []

    def theirs(signum, frame):
        seen.append(signum)

    before = signal.signal(signal.SIGTERM, theirs)
    try:
        with sigterm_raises():
            os.kill(os.getpid(), signal.SIGTERM)
            assert signal.getsignal(signal.SIGTERM) is theirs
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is theirs
    finally:
        signal.signal(signal.SIGTERM, before)

    from sparsecast.cli import parser
    handlers = []
    monkeypatch.setattr(parser, "cmd_train", lambda args: handlers.append(signal.getsignal(signal.SIGTERM)))
    assert parser.main(["train", "--data", "my.csv", "--ddp"]) == 0
    assert handlers == [signal.SIG_DFL]  # a torchrun rank of --ddp: SIGTERM keeps ending it at once
