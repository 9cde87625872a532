"""The command line on temporary CSVs: a real tiny training run, re-evaluation, and clear errors."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from helpers import write_csv
from sparsecast.cli import main

TINY = ["--d-model", "16", "--n-heads", "2", "--d-ff", "32", "--e-layers", "2", "--epochs", "2", "--no-progress",
        "--seq-len", "24", "--label-len", "12", "--pred-len", "6", "--batch-size", "16"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    csv = write_csv(tmp / "series.csv", n=600, columns=("load", "temp", "OT"))
    out = tmp / "run"
    assert main(["train", "--model", "informer", "--data", str(csv), "--features", "MS", "--out", str(out),
                 *TINY]) == 0
    return out


def test_train_writes_a_complete_run_folder(run):
    for name in ("config.json", "metrics.json", "model.safetensors", "scaler.json", "history.json",
                 "intervals.json", "forecasts.png", "loss.png", "active_queries.png"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    for block in ("test", "test_original_units"):
        assert set(metrics[block]) == {"mse", "mae", "rmse", "mape", "mspe", "wape"}
    # test rows: the last 20% (120) plus seq_len of history; every window of them is scored
    assert metrics["test_windows"] == (120 + 24) - 24 - 6 + 1
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["enc_in"] == 3 and config["model"]["c_out"] == 1 and config["data"]["freq"] == "h"


def test_original_units_are_the_inverse_scaled_errors(run):
    metrics = json.loads((run / "metrics.json").read_text())
    std = json.loads((run / "scaler.json").read_text())["std"][-1]
    assert metrics["test_original_units"]["mse"] == pytest.approx(metrics["test"]["mse"] * std ** 2, rel=1e-5)
    assert metrics["test_original_units"]["mae"] == pytest.approx(metrics["test"]["mae"] * std, rel=1e-5)


def test_evaluate_rescoring_matches_training(run, capsys):
    assert main(["evaluate", str(run), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    saved = json.loads((run / "metrics.json").read_text())
    assert again["test"] == pytest.approx(saved["test"], rel=1e-6)


def test_same_seed_same_metrics(run, tmp_path):
    config = json.loads((run / "config.json").read_text())
    out = tmp_path / "again"
    assert main(["train", "--model", "informer", "--data", config["data"]["data"], "--features", "MS",
                 "--out", str(out), *TINY]) == 0
    first = json.loads((run / "metrics.json").read_text())["test"]
    assert json.loads((out / "metrics.json").read_text())["test"] == first


def test_baseline_models_train(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=300)
    for model in ("dlinear", "repeat_last"):
        args = ["train", "--data", str(csv), "--model", model, "--out", str(tmp_path / model), "--epochs", "1",
                "--seq-len", "24", "--label-len", "12", "--pred-len", "6", "--no-progress"]
        assert main(args) == 0
        assert json.loads((tmp_path / model / "metrics.json").read_text())["test"]["mse"] > 0


def test_loss_flag_trains_on_it_and_is_recorded(tmp_path, capsys):
    csv = write_csv(tmp_path / "s.csv", n=300)
    args = ["train", "--data", str(csv), "--model", "dlinear", "--epochs", "1", "--seq-len", "24", "--label-len", "12",
            "--pred-len", "6", "--no-progress", "--loss", "mae", "--out", str(tmp_path / "mae")]
    assert main(args) == 0
    assert "mae loss" in capsys.readouterr().out
    assert json.loads((tmp_path / "mae" / "config.json").read_text())["train"]["loss"] == "mae"
    metrics = json.loads((tmp_path / "mae" / "metrics.json").read_text())
    # validation scored with the kept weights (training's own pass): its MAE is the loss early stopping kept, MSE too
    assert metrics["val"]["mae"] == pytest.approx(metrics["best_val_loss"], rel=1e-5)
    assert metrics["val"]["mse"] > 0
    from sparsecast.forecasting.evaluate import score_split
    assert score_split(tmp_path / "mae")["mse"] == pytest.approx(metrics["val"]["mse"], rel=1e-6)  # saved runs too
    with pytest.raises(SystemExit):  # argparse names the choices
        main([*args[:-4], "--loss", "l2"])


def _bad_inputs(tmp):
    ok = write_csv(tmp / "ok.csv", n=300)
    empty = tmp / "empty.csv"
    empty.write_text("")
    nodate = tmp / "nodate.csv"
    pd.read_csv(ok).rename(columns={"date": "stamp"}).to_csv(nodate, index=False)
    text = tmp / "text.csv"
    write_csv(text, n=300, site=["north"] * 300)
    short = write_csv(tmp / "short.csv", n=60)
    baddate = tmp / "baddate.csv"
    df = pd.read_csv(ok)
    df.loc[5, "date"] = "not a date"
    df.to_csv(baddate, index=False)
    nan = tmp / "nan.csv"
    df = pd.read_csv(ok)
    df.loc[7, "OT"] = np.nan
    df.to_csv(nan, index=False)
    return [
        (["--data", str(tmp / "missing.csv")], "not found"),
        (["--data", str(empty)], "empty"),
        (["--data", str(nodate)], "no 'date' column"),
        (["--data", str(ok), "--target", "price"], "target column 'price'"),
        (["--data", str(ok), "--target", "date"], "is its time column, not a value to forecast; its value columns are"),
        (["--data", str(text), "--features", "M"], "non-numeric"),
        (["--data", str(short), "--seq-len", "96"], "fewer than seq_len + pred_len"),
        (["--data", str(baddate)], "cannot parse date"),
        (["--data", str(nan)], "missing or infinite value"),
        (["--data", str(ok), "--seq-len", "24", "--label-len", "48"], "label_len"),
        (["--data", str(ok), "--pred-len", "0"], "pred_len (--pred-len) must be at least 1"),
        (["--data", "ETTm1"], "--root-path"),
    ]


@pytest.mark.parametrize("model", [[], ["--model", "longpatch"]])  # the default on a CSV (auto), and a model
def test_bad_input_gives_one_line_and_exit_2(model, tmp_path, capsys):
    for args, message in _bad_inputs(tmp_path):
        code = main(["train", *args, *model, "--out", str(tmp_path / "out"), "--no-progress", "--epochs", "1"])
        err = capsys.readouterr().err.strip()
        assert code == 2, args
        assert message in err and len(err.splitlines()) == 1, (args, err)


def test_console_script_exit_code_and_no_traceback(tmp_path):
    res = subprocess.run([sys.executable, "-m", "sparsecast.cli", "train", "--data", str(tmp_path / "nope.csv")],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "data file not found" in res.stderr


def test_evaluate_rejects_a_truncated_checkpoint(run, tmp_path, capsys):
    import shutil
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
    assert main(["evaluate", str(broken)]) == 2
    assert "truncated" in capsys.readouterr().err


def test_reproduce_table_keeps_every_horizon(tmp_path, capsys):
    out = tmp_path / "paper"
    for h in ("24", "48"):
        assert main(["reproduce", "--table", "multivariate", "--data", "ETTh1", "--horizons", h,
                     "--models", "repeat_last", "--out", str(out), "--no-progress"]) == 0
    table = (out / "ETTh1_multivariate.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert "1.222 / 0.671" in rows["24"] and "1.267 / 0.695" in rows["48"]  # repeat-last on the paper's splits
    assert "0.577 / 0.549" in rows["24"] and "not run" in rows["720"]
    assert "1.222 / 0.671 (+112%)" in rows["24"]  # the change against the paper's 0.577
    header = next(line for line in table.splitlines() if line.startswith("| horizon"))
    assert "| Informer |" in header and "| repeat last |" in header  # the faithful column, and what ran
    from sparsecast.forecasting.reproduce import ROWS
    assert not [label for _, label, _, _ in ROWS if label not in ("Informer", "repeat last")
                and f"| {label} |" in header]  # no column for what has not run in this table
    plot = out / "ETTh1_multivariate.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({plot.name})" in table


def test_reproduce_scores_seasonal_naive_on_the_paper_windows(tmp_path, capsys):
    """The seasonal-naive column: each test window's horizon repeats the day before it (season 24 on hourly ETTh1,
    pred_len 24), scored on the paper's normalized windows; checked against the rows of the split by hand."""
    from sparsecast.data import DataConfig
    from sparsecast.data.datasets import prepare_data
    out = tmp_path / "paper"
    assert main(["reproduce", "--table", "multivariate", "--data", "ETTh1", "--horizons", "24",
                 "--models", "seasonal_naive", "--out", str(out), "--no-progress"]) == 0
    cell = json.loads((out / "ETTh1_multivariate.json").read_text())["24|seasonal_naive"]
    test = prepare_data(DataConfig(data="ETTh1", features="M", seq_len=48, label_len=48, pred_len=24)).splits["test"]
    rows = test.targets.numpy()  # (rows of the test split with its lookback, C)
    L, P = test.seq_len, test.pred_len
    truth = np.stack([rows[i + L:i + L + P] for i in range(len(test))])  # (N, P, C)
    naive = np.stack([rows[i + L - 24:i + L - 24 + P] for i in range(len(test))])  # (N, P, C): a day before
    assert cell["test"]["mse"] == pytest.approx(float(((truth - naive) ** 2).mean()), rel=1e-5)
    assert cell["test"]["mae"] == pytest.approx(float(np.abs(truth - naive).mean()), rel=1e-5)
    header = next(line for line in (out / "ETTh1_multivariate.md").read_text().splitlines()
                  if line.startswith("| horizon"))
    assert "| seasonal naive |" in header


def test_reproduce_records_how_each_cell_trained(tmp_path, capsys):
    out = tmp_path / "paper"
    assert main(["reproduce", "--table", "multivariate", "--data", "ETTh1", "--horizons", "24", "--models", "dlinear",
                 "--epochs", "2", "--out", str(out), "--no-progress"]) == 0
    cell = json.loads((out / "ETTh1_multivariate.json").read_text())["24|dlinear"]
    assert cell["epochs"] == 2 and len(cell["seconds_per_epoch"]) == 2 and cell["best_epoch"] in (1, 2)
    assert cell["seed"] == 0 and "threads" in cell["machine"]
    assert "- h24 DLinear, seed 0: 2 epochs" in (out / "ETTh1_multivariate.md").read_text()


def test_reproduce_refuses_a_loss_the_paper_did_not_train_on(tmp_path, capsys):
    assert main(["reproduce", "--table", "multivariate", "--data", "ETTh1", "--horizons", "24", "--models",
                 "repeat_last", "--loss", "mae", "--out", str(tmp_path / "paper")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "the paper's tables train on MSE" in err
    assert not (tmp_path / "paper").exists()


def test_reproduce_runs_seeds_and_reports_their_mean(tmp_path, capsys):
    """Seeds are a dimension of the table: seed 0 keeps the old key, the others are added beside it, finished seeds
    are skipped, and the row shows mean ± std."""
    out = tmp_path / "paper"
    args = ["reproduce", "--table", "multivariate", "--data", "ETTh1", "--horizons", "24", "--models", "dlinear",
            "--epochs", "1", "--out", str(out), "--no-progress"]
    assert main(args + ["--seeds", "0"]) == 0
    assert main(args + ["--seeds", "0,1"]) == 0  # seed 0 is skipped, seed 1 runs
    results = json.loads((out / "ETTh1_multivariate.json").read_text())
    assert sorted(results) == ["24|dlinear", "24|dlinear|seed1"]
    assert results["24|dlinear|seed1"]["seed"] == 1
    mse = [results[k]["test"]["mse"] for k in sorted(results)]
    assert mse[0] != mse[1]  # a different seed trains a different model
    row = next(line for line in (out / "ETTh1_multivariate.md").read_text().splitlines() if line.startswith("| 24 "))
    assert f"{(mse[0] + mse[1]) / 2:.3f} ± " in row and "(n=2)" in row


def test_reproduce_continues_an_interrupted_cell(tmp_path):
    from sparsecast.forecasting.reproduce import reproduce
    from sparsecast.training import TrainConfig
    cfg = TrainConfig(epochs=3, patience=5, progress=False)
    run = lambda out, log: reproduce("multivariate", "ETTh1", out, None, [24], cfg, ["dlinear"], log=log)  # noqa: E731

    def stop_in_epoch_two(line):
        if line.startswith("epoch 2:"):
            raise KeyboardInterrupt  # killed before epoch 2's checkpoint: the checkpoint holds epoch 1
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "killed", stop_in_epoch_two)
    assert (tmp_path / "killed" / "runs" / "ETTh1_M_24_dlinear" / "checkpoint.safetensors").is_file()
    lines = []
    run(tmp_path / "killed", lines.append)
    run(tmp_path / "whole", lambda line: None)
    assert any("continuing the interrupted run" in line for line in lines)
    assert any(line.startswith("resuming after epoch 1") for line in lines)
    killed, whole = (json.loads((tmp_path / d / "ETTh1_multivariate.json").read_text())["24|dlinear"]
                     for d in ("killed", "whole"))
    assert killed["resumed"] and not whole["resumed"]
    assert killed["test"] == whole["test"] and killed["epochs"] == whole["epochs"] == 3


def test_deseason_flag_wraps_any_model_with_the_data_s_season(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=400)
    out = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--model", "dlinear", "--deseason", "--out", str(out), "--epochs", "1",
                 "--seq-len", "24", "--pred-len", "6", "--no-progress"]) == 0
    series = json.loads((out / "config.json").read_text())["series"]
    assert series["deseason"] and series["profile_len"] == 24  # hourly data: a day
    assert main(["evaluate", str(out)]) == 0  # reloaded with its profile


def test_train_records_its_device_and_refuses_a_missing_gpu(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", "ETTh1", "--model", "dlinear", "--features", "S", "--seq-len", "48",
                 "--pred-len", "24", "--epochs", "1", "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    assert json.loads((out / "config.json").read_text())["device"] == "cpu"
    # tests see no GPU (conftest), as on a machine without one
    assert main(["train", "--data", "ETTh1", "--model", "dlinear", "--features", "S", "--seq-len", "48",
                 "--pred-len", "24", "--epochs", "1", "--out", str(tmp_path / "gpu"), "--no-progress",
                 "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no CUDA GPU" in err[0]


def test_reproduce_skips_a_cell_another_process_is_training(tmp_path):
    from sparsecast.forecasting.reproduce import reproduce
    from sparsecast.forecasting.run_dir import claim
    from sparsecast.training import TrainConfig
    out = tmp_path / "paper"
    lock = out / "runs" / "ETTh1_M_24_repeat_last.lock"
    with claim(lock) as mine:
        assert mine
        with claim(lock) as again:
            assert not again  # a second holder is refused at once
        reproduce("multivariate", "ETTh1", out, None, [24], TrainConfig(progress=False), ["repeat_last"],
                  log=lambda line: None)
        assert not (out / "ETTh1_multivariate.json").exists()  # held elsewhere: skipped
    reproduce("multivariate", "ETTh1", out, None, [24], TrainConfig(progress=False), ["repeat_last"],
              log=lambda line: None)
    assert "24|repeat_last" in json.loads((out / "ETTh1_multivariate.json").read_text())


SMALL = ["--model", "dlinear", "--seq-len", "24", "--label-len", "12", "--pred-len", "6", "--epochs", "1",
         "--no-progress"]


def test_own_csv_is_refit_on_every_row_for_predict(tmp_path, capsys):
    """On a user's CSV, train scores the model of the first 70% and then fits it again on every row (run/final),
    which predict and export use; --no-refit keeps the scored model alone."""
    csv = write_csv(tmp_path / "s.csv", n=400)
    frame = pd.read_csv(csv).rename(columns={"date": "timestamp"})
    frame.to_csv(csv, index=False)
    run, kept = tmp_path / "run", tmp_path / "kept"
    assert main(["train", "--data", str(csv), "--date-col", "timestamp", "--out", str(run), *SMALL]) == 0
    assert "refitting the model on every row" in capsys.readouterr().out
    scaler = json.loads((run / "scaler.json").read_text())
    final = json.loads((run / "final" / "scaler.json").read_text())
    values = frame["OT"].to_numpy()  # the refit's scaler is fit on its first 90% of the rows, the run's on 70%
    assert scaler["mean"][-1] == pytest.approx(values[:280].mean()) and final["mean"][-1] != scaler["mean"][-1]
    out = tmp_path / "f.csv"
    assert main(["predict", str(run), "--input", str(csv), "--out", str(out)]) == 0
    assert "refit on every row" in capsys.readouterr().out
    forecast = pd.read_csv(out, parse_dates=["timestamp"])  # the time column keeps the input's name
    assert forecast["timestamp"].iloc[0] == pd.Timestamp(frame["timestamp"].iloc[-1]) + pd.Timedelta(hours=1)
    assert main(["train", "--data", str(csv), "--out", str(kept), "--no-refit", *SMALL]) == 0  # found by its name
    assert "--refit fits it on every row" in capsys.readouterr().out and not (kept / "final").exists()
    assert main(["predict", str(kept), "--input", str(csv), "--out", str(out)]) == 0
    assert "the run's model" in capsys.readouterr().out
    assert list(pd.read_csv(out).columns)[0] == "timestamp"  # the name the input has, not "date"
    assert main(["train", "--data", str(csv), "--date-col", "timestamp", "--out", str(run), "--no-refit",
                 *SMALL]) == 0  # a new run in the folder: the earlier refit model goes
    assert not (run / "final").exists()


def test_predict_refuses_a_wrong_file_before_filling_its_gaps(tmp_path, capsys):
    """An hourly run that fills gaps, given a file of other columns or of daily rows: one line that says which,
    instead of filling the file's thousands of missing hours first (or forecasting from them)."""
    csv = write_csv(tmp_path / "s.csv", n=400)
    run = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--out", str(run), "--fill", "interpolate", "--no-refit", *SMALL]) == 0
    capsys.readouterr()
    other = write_csv(tmp_path / "other.csv", n=60, freq="D", columns=("x", "y"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["predict", str(run), "--input", str(other), "--out", str(tmp_path / "f.csv")]) == 2
    assert not caught  # no fill was announced
    err = capsys.readouterr().err
    assert f"{other} lacks column(s) ['OT'] the model was trained on (it read ['OT']); {other} has ['x', 'y']" in err
    daily = write_csv(tmp_path / "daily.csv", n=60, freq="D")
    assert main(["predict", str(run), "--input", str(daily), "--out", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err
    assert (f"{daily} has 60 distinct timestamps over 1417 steps of the h grid: filling its gaps would make up 1357 "
            f"rows, more than it has; the model was fit on h rows") in err


def test_a_new_run_replaces_the_earlier_one_in_its_folder(tmp_path):
    """A run writes fewer files than another (seasonal naive: no loss curve, no weights to train): none of the
    earlier run's are left beside it; a run refused for its input leaves the earlier one whole."""
    from sparsecast.forecasting.run_dir import HISTORY, LOSS_PLOT
    csv = write_csv(tmp_path / "s.csv", n=400)
    run = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--out", str(run), *SMALL]) == 0
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.is_file()}
    assert {HISTORY, LOSS_PLOT} <= set(before) and (run / "final").is_dir()
    (run / "final" / "mine.csv").write_text("a user's own file")
    refused = [[*SMALL, "--target", "nope"],  # the data's columns
               ["--epochs", "0", "--pred-len", "6"],  # auto (the default on a CSV): its settings
               ["--seq-len", "390", "--pred-len", "6", "--epochs", "1"]]  # auto: no candidate can be validated
    for args in refused:
        assert main(["train", "--data", str(csv), "--out", str(run), *args]) == 2, args
        assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.is_file()} == before
        assert (run / "final" / "series.json").is_file()
    assert main(["train", "--data", str(csv), "--out", str(run), "--model", "seasonal_naive", "--seq-len", "48",
                 "--pred-len", "6", "--no-refit", "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model_name"] == "seasonal_naive"
    assert [p.name for p in (run / "final").iterdir()] == ["mine.csv"]  # the refit model went, the user's file not
    for name in set(before) - {p.name for p in run.iterdir()}:  # what the new run did not write is gone
        assert name in (HISTORY, LOSS_PLOT, "model.safetensors"), name
    for p in run.iterdir():
        if p.is_file() and p.name in before:
            assert p.stat().st_mtime_ns > before[p.name][1], p.name  # the rest is the new run's


def test_a_stopped_refit_resumes_from_its_checkpoint_and_ends_the_same(tmp_path, capsys, monkeypatch):
    """train --resume on a run whose refit was stopped after its first epoch continues the refit from its own
    checkpoint (not the training, which finished) and saves the model an unstopped refit saves."""
    import sparsecast.training.trainer as trainer
    csv = write_csv(tmp_path / "s.csv", n=400)
    args = ["train", "--data", str(csv), *SMALL, "--epochs", "3", "--patience", "5"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    saves, save = [], trainer.save_checkpoint

    def stop_after_the_refit_s_first_epoch(path, *rest):
        save(path, *rest)
        saves.append(path)
        if path.parent.name == "final":
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_checkpoint", stop_after_the_refit_s_first_epoch)
    run = tmp_path / "run"
    assert main([*args, "--out", str(run)]) == 130  # stopped: one line, no traceback
    assert capsys.readouterr().err.endswith("sparsecast: stopped\n")
    assert [p.parent.name for p in saves] == ["run"] * 3 + ["final"]
    monkeypatch.setattr(trainer, "save_checkpoint", save)
    assert main(["predict", str(run), "--input", str(csv), "--out", str(tmp_path / "f.csv")]) == 0  # not the
    assert "the run's model" in capsys.readouterr().out  # unfinished refit
    assert main(["train", "--resume", str(run)]) == 0
    out = capsys.readouterr().out
    assert "resuming after epoch 1 of 3" in out and "refitting the model on every row" in out
    final, whole = (d / "final" for d in (run, tmp_path / "whole"))
    assert (final / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()
    assert not (final / "checkpoint.safetensors").exists()
    assert main(["train", "--resume", str(run)]) == 0  # nothing left to do
    assert "nothing to resume" in capsys.readouterr().out


def test_resume_finishes_the_refit_the_run_set_out_to_do(tmp_path, capsys, monkeypatch):
    """A run stopped after scoring but before its refit began refits on --resume (config.json records the intent);
    a --no-refit run has nothing to resume unless --refit asks for the refit then."""
    import sparsecast.forecasting.final as final

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    csv = write_csv(tmp_path / "s.csv", n=400)
    run, kept = tmp_path / "run", tmp_path / "kept"
    refit_run = final.refit_run
    monkeypatch.setattr(final, "refit_run", stopped)
    assert main(["train", "--data", str(csv), *SMALL, "--out", str(run)]) == 130
    monkeypatch.setattr(final, "refit_run", refit_run)
    assert json.loads((run / "config.json").read_text())["refit"] and not (run / "final").exists()
    assert main(["train", "--resume", str(run)]) == 0
    assert (run / "final" / "series.json").is_file()
    assert main(["train", "--data", str(csv), *SMALL, "--no-refit", "--out", str(kept)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(kept)]) == 0
    assert "nothing to resume" in capsys.readouterr().out and not (kept / "final").exists()
    assert main(["train", "--resume", str(kept), "--refit"]) == 0
    assert (kept / "final" / "series.json").is_file()


def test_refit_and_backtest_read_a_built_in_dataset_s_file(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "ETTh1", "--model", "repeat_last", "--features", "S", "--seq-len", "24",
                 "--pred-len", "6", "--refit", "--no-progress", "--out", str(run)]) == 0
    assert (run / "final" / "series.json").is_file()
    capsys.readouterr()
    assert main(["backtest", str(run), "--windows", "2", "--out", str(tmp_path / "bt.csv")]) == 0
    assert "2 origins" in capsys.readouterr().out
    assert main(["backtest", str(run), "--windows", "0", "--out", str(tmp_path / "bt.csv")]) == 2


def test_backtest_scores_the_run_s_model_and_flags_rows_it_saw(tmp_path, capsys):
    csv = write_csv(tmp_path / "s.csv", n=400)
    run, out = tmp_path / "run", tmp_path / "bt.csv"
    assert main(["train", "--data", str(csv), "--out", str(run), "--no-refit", *SMALL]) == 0
    capsys.readouterr()
    assert main(["backtest", str(run), "--windows", "3", "--out", str(out)]) == 0
    table = pd.read_csv(out, parse_dates=["origin"])
    assert len(table) == 3 and {"mse", "mae", "seasonal_naive_mse", "skill"} <= set(table.columns)
    last = pd.read_csv(csv, parse_dates=["date"])["date"].iloc[-6]  # the last origin: one horizon before the end
    printed = capsys.readouterr().out
    assert table["origin"].iloc[-1] == last and "optimistic" not in printed
    ratio = table["mse"].mean() / table["seasonal_naive_mse"].mean()  # the ratio of the means, not a mean of ratios
    assert f"skill (mean MSE / seasonal naive's) {ratio:.3f}" in printed
    assert main(["backtest", str(run), "--windows", "30", "--out", str(out)]) == 0  # 180 rows: past the test's 80
    assert "optimistic" in capsys.readouterr().out


def test_features_ms_says_when_the_model_reads_only_the_target(tmp_path, capsys):
    csv = write_csv(tmp_path / "s.csv", n=300, columns=("load", "OT"))
    assert main(["train", "--data", str(csv), "--features", "MS", "--out", str(tmp_path / "r"), "--no-refit",
                 *SMALL]) == 0
    assert "do not inform it" in capsys.readouterr().out


def test_warnings_print_as_one_line(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=300)
    frame = pd.read_csv(csv).drop(index=[100, 101])
    frame.loc[50, "OT"] = np.nan
    frame.to_csv(csv, index=False)
    done = subprocess.run([sys.executable, "-m", "sparsecast.cli", "train", "--data", str(csv), "--fill", "interpolate",
                           "--out", str(tmp_path / "r"), "--no-refit", *SMALL], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "sparsecast: warning: filled 2 missing timestamp(s) and 1 missing value(s)" in done.stderr
    assert ".py:" not in done.stderr  # not Python's file:line form


def test_backtest_skill_is_taken_over_the_origins_seasonal_naive_can_forecast(tmp_path, capsys):
    csv = write_csv(tmp_path / "s.csv", n=200)
    run, short = tmp_path / "run", tmp_path / "short.csv"
    assert main(["train", "--data", str(csv), "--model", "repeat_last", "--seq-len", "8", "--pred-len", "4",
                 "--no-refit", "--no-progress", "--out", str(run)]) == 0
    pd.read_csv(csv).tail(48).to_csv(short, index=False)  # the first origins have no season (24) before them
    capsys.readouterr()
    assert main(["backtest", str(run), "--input", str(short), "--windows", "8", "--out", str(tmp_path / "b.csv")]) == 0
    table = pd.read_csv(tmp_path / "b.csv").dropna(subset=["seasonal_naive_mse"])
    assert 0 < len(table) < 8
    ratio = table["mse"].mean() / table["seasonal_naive_mse"].mean()
    assert (f"skill (mean MSE / seasonal naive's over the {len(table)} origins with a season before them) "
            f"{ratio:.3f}") in capsys.readouterr().out



def test_reproduce_runs_the_opt_in_rows_only_when_named():
    from sparsecast.forecasting.reproduce import ROWS, chosen_rows
    assert [r[0] for r in chosen_rows(None)] == [r[0] for r in ROWS if r[0] != "informer_mix_cumsum"]
    assert [r[0] for r in chosen_rows(["repeat_last", "informer_mix_cumsum"])] == ["repeat_last", "informer_mix_cumsum"]
    with pytest.raises(ValueError, match="unknown model"):
        chosen_rows(["informer_official"])


def test_the_flags_help_names_every_value_they_take():
    """The help lists (kept beside the flags, where torch is not imported) stay those of the code."""
    from sparsecast.attention.probsparse import SAMPLINGS, SELECTIONS
    from sparsecast.attention.registry import ATTENTION
    from sparsecast.cli.flags import FLAG_HELP, MODEL_FLAGS, SCHEDULE_NAMES, SWITCHES
    from sparsecast.nn.feed_forward import ACTIVATIONS
    from sparsecast.nn.norm import NORMS
    from sparsecast.training import SCHEDULES
    assert sorted(SCHEDULE_NAMES) == sorted(SCHEDULES)
    for flag, values in (("attn", ATTENTION), ("sampling", SAMPLINGS), ("selection", SELECTIONS),
                         ("activation", ACTIVATIONS), ("norm", NORMS)):
        assert all(v in FLAG_HELP[flag] for v in values), flag
    assert set(FLAG_HELP) == {*MODEL_FLAGS, *SWITCHES}  # every model flag says what it sets in --help


def test_auto_on_a_horizon_too_long_for_the_file_names_its_rows(tmp_path, capsys):
    """The rows auto chooses on are the file's before its test split: the line says which, of how many."""
    csv = write_csv(tmp_path / "my.csv", n=400)
    assert main(["train", "--data", str(csv), "--target", "OT", "--pred-len", "250", "--out",
                 str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "but the part of my.csv before its test split (the last 250 of its 400 rows) has 150 rows: give a " \
           "shorter horizon (--pred-len" in err and "Traceback" not in err


def test_messages_show_a_span_of_times_alike():
    """The date alone only where every time shown with it is a midnight (daily data); an hourly forecast that
    starts at midnight shows its first step's time too."""
    from sparsecast.cli.runs import _when
    hourly = pd.date_range("2020-01-17", periods=6, freq="h")
    assert [_when(hourly[i], hourly) for i in (0, -1)] == ["2020-01-17 00:00:00", "2020-01-17 05:00:00"]
    daily = pd.date_range("2020-01-17", periods=6, freq="D")
    assert [_when(daily[i], daily) for i in (0, -1)] == ["2020-01-17", "2020-01-22"]
    assert _when(pd.Timestamp("2020-01-17")) == "2020-01-17"
