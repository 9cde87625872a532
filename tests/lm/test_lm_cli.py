"""The lm commands on a temporary text file, and the digits set."""

import json

import pytest

from sparsecast.cli import main


def test_lm_train_and_sample_on_a_text_file(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("to be or not to be, that is the question. " * 200)
    out = tmp_path / "run"
    args = ["lm", "train", "--data", str(text), "--context", "32", "--n-layers", "2", "--d-model", "32",
            "--n-heads", "2", "--steps", "40", "--warmup", "5", "--eval-every", "20", "--batch-size", "8",
            "--no-progress", "--out", str(out)]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 < metrics["test"]["bits_per_byte"] < 8  # a 40-step model already beats 8 bits per byte on this text
    capsys.readouterr()
    assert main(["lm", "sample", str(out), "--prompt", "to be", "--tokens", "20", "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("to be")
    assert main(["lm", "sample", str(out), "--prompt", "to be", "--tokens", "20", "--seed", "3"]) == 0
    assert capsys.readouterr().out == first


def test_digits_batches():
    pytest.importorskip("sklearn")
    from sparsecast.lm import load_tokens
    tokens = load_tokens("digits", 64)
    assert {k: len(v) for k, v in tokens.splits.items()} == {"train": 1500, "val": 150, "test": 147}
    batch = next(tokens.eval_batches("test", 4))
    assert batch.tokens.shape == (4, 64) and (batch.tokens[:, 0] == 17).all()
    assert (batch.tokens[:, 1:] == batch.targets[:, :-1]).all() and batch.targets.max() <= 16


def test_lm_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["lm", "train", "--data", str(tmp_path / "none.txt"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err


def test_ctrl_c_ends_an_lm_run_after_the_step_and_keeps_what_it_trained(tmp_path, capsys, monkeypatch):
    import os
    import signal

    import sparsecast.lm.experiment as experiment
    calls, loss = [], experiment.lm_loss

    def signalling_loss(*args):
        calls.append(1)
        if len(calls) == 10:
            os.kill(os.getpid(), signal.SIGINT)  # a user's Ctrl-C during step 10
        return loss(*args)

    monkeypatch.setattr(experiment, "lm_loss", signalling_loss)
    text = tmp_path / "t.txt"
    text.write_text("to be or not to be, that is the question. " * 200)
    out = tmp_path / "run"
    assert main(["lm", "train", "--data", str(text), "--context", "32", "--n-layers", "1", "--d-model", "16",
                 "--n-heads", "2", "--steps", "40", "--eval-every", "20", "--batch-size", "4", "--no-progress",
                 "--out", str(out)]) == 0
    assert "stopped by SIGINT after step 10 of 40" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 10 and metrics["stopped_by"] == "SIGINT" and metrics["test"]["bits_per_byte"] > 0
    assert json.loads((out / "history.json").read_text())["step"] == [10]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
