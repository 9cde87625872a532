"""`sparsecast train --model auto`: model="auto" chosen on the rows before the test split, scored like any run,
re-scored by evaluate, refit on every row for predict."""

import contextlib
import io
import json

import pandas as pd
import pytest

from helpers import write_csv
from sparsecast.cli import main


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory):
    """A daily CSV (140 rows, a weekly season) trained with the default model on a CSV (auto), two epochs a
    candidate, among the candidates that need no extra (with statsforecast, AutoETS and AutoARIMA would refit on every window: minutes);
    what the choice saw."""
    import sparsecast.forecasting.auto as auto
    tmp = tmp_path_factory.mktemp("auto")
    csv = write_csv(tmp / "daily.csv", n=140, freq="D", columns=("load",))
    seen, choose, candidates = [], auto.choose, auto.AUTO_CANDIDATES
    auto.choose = lambda fc, df: seen.append(df) or choose(fc, df)
    auto.AUTO_CANDIDATES = ("longpatch", "seasonal_naive", "dlinear")
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            code = main(["train", "--data", str(csv), "--target", "load", "--pred-len", "7",
                         "--epochs", "2", "--no-progress", "--out", str(tmp / "run")])
    finally:
        auto.choose, auto.AUTO_CANDIDATES = choose, candidates
    assert code == 0
    seen.append(printed.getvalue())  # what train printed, last
    return csv, tmp / "run", seen


def test_auto_chooses_on_the_rows_before_the_test_split_alone(auto_run):
    _, run, seen = auto_run
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    first_test = pd.Timestamp(metrics["test_start"])
    *seen, printed = seen
    assert len(seen) == 1  # the refit on every row fits the choice the run scored: it does not choose again
    assert seen[0]["date"].max() < first_test
    # 140 daily rows leave too few validation rows for intervals: train says so (the fit's warning is silenced)
    assert "no prediction intervals: the validation windows span" in printed and metrics["intervals"] is None
    lookback = json.loads((run / "final" / "config.json").read_text())["data"]["seq_len"]
    assert f"predict reads the last {lookback} rows of its --input" in printed
    assert set(config["auto"]["validation_mse"]) == {"longpatch", "seasonal_naive", "dlinear"}
    assert config["model_name"] in (*config["auto"]["weights"], "ensemble")
    # every test window: the last 20% of the rows (28), a horizon each
    assert metrics["test_windows"] == 28 - 7 + 1 and metrics["skill"]["baselines"]["seasonal_naive"]


def test_evaluate_rescores_an_auto_run_exactly(auto_run, capsys):
    _, run, _ = auto_run
    metrics = json.loads((run / "metrics.json").read_text())
    assert main(["evaluate", str(run), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["test"]["mse"] == pytest.approx(metrics["test"]["mse"], rel=1e-6)


def test_predict_forecasts_the_week_after_the_data_with_the_refit_choice(auto_run, tmp_path, capsys):
    csv, run, _ = auto_run
    assert (run / "final" / "series.json").is_file()
    scored, refit = (json.loads((d / "config.json").read_text()) for d in (run, run / "final"))
    assert refit["model_name"] == scored["model_name"]  # the candidates the run scored, fit on every row
    if scored["model_name"] == "ensemble":
        assert ([(m["model_name"], m["weight"]) for m in refit["model"]["members"]]
                == [(m["model_name"], pytest.approx(m["weight"])) for m in scored["model"]["members"]])
    out = tmp_path / "f.csv"
    assert main(["predict", str(run), "--input", str(csv), "--out", str(out)]) == 0
    assert "refit on every row" in capsys.readouterr().out
    forecast = pd.read_csv(out, parse_dates=["date"])
    last = pd.read_csv(csv, parse_dates=["date"])["date"].iloc[-1]
    assert list(forecast["date"]) == list(pd.date_range(last, periods=8, freq="D")[1:])
    assert forecast["load"].notna().all()


def test_a_refit_builds_the_scored_runs_candidates_also_from_an_older_config(auto_run):
    from sparsecast.forecasting.auto_run import auto_forecaster
    _, run, _ = auto_run
    config = json.loads((run / "config.json").read_text())
    now = auto_forecaster(config)
    settings = config.pop("auto_settings")  # runs scored before it kept the lookback beside the training settings
    older = auto_forecaster({**config, "auto_seq_len": settings["seq_len"]})
    assert (older.train_cfg, older.data_cfg) == (now.train_cfg, now.data_cfg)
    assert now.train_cfg.epochs == 2 and now.data_cfg.pred_len == 7


def test_auto_says_each_of_the_datas_warnings_once(tmp_path, monkeypatch):
    import warnings

    import sparsecast.forecasting.auto as auto
    monkeypatch.setattr(auto, "AUTO_CANDIDATES", ("seasonal_naive", "repeat_last"))
    csv = write_csv(tmp_path / "s.csv", n=140, freq="D", columns=("load",))
    rows = pd.read_csv(csv)
    pd.concat([rows, rows.iloc[[100]]]).sort_values("date", kind="stable").to_csv(csv, index=False)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert main(["train", "--data", str(csv), "--target", "load", "--pred-len", "7", "--no-refit",
                     "--no-progress", "--out", str(tmp_path / "r")]) == 0
    repeats = [w for w in said if "repeat an earlier row exactly" in str(w.message)]
    assert len(repeats) == 1  # the file is read for the choice and again for the scoring: one warning


def test_auto_refuses_model_flags_with_one_line(tmp_path, capsys):
    csv = write_csv(tmp_path / "s.csv", n=140, freq="D", columns=("load",))
    assert main(["train", "--data", str(csv), "--model", "auto", "--d-model", "16", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--model auto takes data and training flags only, not --d-model" in err and len(err.splitlines()) == 1


def test_model_flags_without_a_model_train_longpatch(tmp_path, capsys):
    """On a CSV the default is auto, which takes no model flags: given some, the default is LongPatch, theirs."""
    csv = write_csv(tmp_path / "s.csv", n=140, freq="D", columns=("load",))
    assert main(["train", "--data", str(csv), "--target", "load", "--pred-len", "7", "--seq-len", "28", "--d-model",
                 "16", "--epochs", "1", "--no-refit", "--no-progress", "--out", str(tmp_path / "r")]) == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["model_name"] == "longpatch" and config["model"]["d_model"] == 16 and config.get("auto") is None


@pytest.mark.parametrize("args, model", [
    (["--data", "CSV"], "auto"), (["--data", "CSV", "--d-model", "16"], "longpatch"),
    (["--data", "CSV", "--no-revin"], "longpatch"), (["--data", "CSV", "--ddp"], "longpatch"),
    (["--data", "CSV", "--model", "dlinear"], "dlinear"), (["--data", "ETTh1"], "longpatch"),
    (["--data", "missing.csv"], "longpatch")])
def test_the_default_model_is_auto_on_a_csv_of_ones_own(args, model, tmp_path, capsys):
    from sparsecast.cli.parser import build_parser
    from sparsecast.cli.train import default_model
    csv = write_csv(tmp_path / "s.csv", n=140, freq="D", columns=("load",))
    a = build_parser().parse_args(["train", *(str(csv) if x == "CSV" else x for x in args)])
    assert default_model(a) == model
    said = capsys.readouterr().out
    assert ("model: auto, the default on a CSV of your own" in said) == (model == "auto")


class Stop(Exception):
    """Stands for the process being killed."""


def test_a_run_stopped_after_choosing_resumes_by_choosing_again(tmp_path, monkeypatch, capsys):
    """Stopped while it chooses, a run leaves the earlier one in its folder whole; stopped after (while it fits the
    chosen candidates), it has replaced it with its settings, and --resume chooses again from them (the choice has
    no checkpoint); until then predict says in one line that the run is unfinished."""
    import sparsecast.forecasting.auto as auto
    from sparsecast import Forecaster
    monkeypatch.setattr(auto, "AUTO_CANDIDATES", ("seasonal_naive", "dlinear"))
    csv = write_csv(tmp_path / "s.csv", n=140, freq="D", columns=("load",))
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text('{"test": {"mse": 0.1}}')  # an earlier run's, in the same folder
    args = ["train", "--data", str(csv), "--target", "load", "--pred-len", "7", "--epochs", "1", "--no-progress",
            "--out", str(run)]

    def stop(*args, **kwargs):
        raise Stop()

    choose, fit = auto.choose, Forecaster.fit
    monkeypatch.setattr(auto, "choose", stop)
    with pytest.raises(Stop):
        main(args)
    assert [p.name for p in run.iterdir()] == ["metrics.json"]  # the earlier run, whole
    monkeypatch.setattr(auto, "choose", choose)
    monkeypatch.setattr(Forecaster, "fit",  # the fit of the choice (its candidates' fits while choosing go on)
                        lambda fc, *a, **k: stop() if fc.auto_choice is not None else fit(fc, *a, **k))
    with pytest.raises(Stop):
        main(args)
    assert not (run / "metrics.json").exists()
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(csv), "--out", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err
    assert "stopped before it was scored" in err and len(err.splitlines()) == 1
    monkeypatch.setattr(Forecaster, "fit", fit)
    assert main(["train", "--resume", str(run)]) == 0
    assert "chooses again from the start" in capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert config["auto"]["validation_mse"].keys() == {"seasonal_naive", "dlinear"}
    assert (run / "metrics.json").is_file() and (run / "final" / "series.json").is_file()  # scored, then refit
    assert main(["train", "--resume", str(run)]) == 0  # nothing left to do
    assert "nothing to resume" in capsys.readouterr().out


def test_auto_with_gaps_filled_before_the_test_split(tmp_path, monkeypatch):
    """--fill: the choice gets the filled rows before the test split, the same rows the run scales on (four days
    missing just before it)."""
    import sparsecast.forecasting.auto as auto
    monkeypatch.setattr(auto, "AUTO_CANDIDATES", ("seasonal_naive", "dlinear"))
    csv = write_csv(tmp_path / "gaps.csv", n=140, freq="D", columns=("load",))
    frame = pd.read_csv(csv)
    frame.drop(index=range(109, 113)).to_csv(csv, index=False)
    assert main(["train", "--data", str(csv), "--target", "load", "--pred-len", "7", "--label-len", "24", "--model",
                 "auto", "--fill", "ffill", "--epochs", "1", "--no-refit", "--no-progress",
                 "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_windows"] == 28 - 7 + 1  # the filled grid's 140 rows
