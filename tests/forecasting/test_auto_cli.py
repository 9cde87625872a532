"""`sparsecast train --model auto`: model="auto" chosen on the rows before the test split, scored like any run,
re-scored by evaluate, refit on every row for predict."""

import json

import pandas as pd
import pytest

from helpers import write_csv
from sparsecast.cli import main


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory):
    """A daily CSV (140 rows, a weekly season) trained with the default model on a CSV (auto), two epochs a candidate, among the
    candidates that need no extra (with statsforecast, AutoETS and AutoARIMA would refit on every window: minutes);
    what the choice saw."""
    import sparsecast.forecasting.auto as auto
    tmp = tmp_path_factory.mktemp("auto")
    csv = write_csv(tmp / "daily.csv", n=140, freq="D", columns=("load",))
    seen, choose, candidates = [], auto.choose, auto.AUTO_CANDIDATES
    auto.choose = lambda fc, df: seen.append(df) or choose(fc, df)
    auto.AUTO_CANDIDATES = ("longpatch", "seasonal_naive", "dlinear")
    try:
        code = main(["train", "--data", str(csv), "--target", "load", "--pred-len", "7",
                     "--epochs", "2", "--no-progress", "--out", str(tmp / "run")])
    finally:
        auto.choose, auto.AUTO_CANDIDATES = choose, candidates
    assert code == 0
    return csv, tmp / "run", seen


def test_auto_chooses_on_the_rows_before_the_test_split_alone(auto_run):
    _, run, seen = auto_run
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    first_test = pd.Timestamp(metrics["test_start"])
    assert len(seen) == 1  # the refit on every row fits the choice the run scored: it does not choose again
    assert seen[0]["date"].max() < first_test
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
    scored, refit = (json.loads((d / "config.json").read_text())["auto"] for d in (run, run / "final"))
    assert refit["weights"] == pytest.approx(scored["weights"])
    out = tmp_path / "f.csv"
    assert main(["predict", str(run), "--input", str(csv), "--out", str(out)]) == 0
    assert "refit on every row" in capsys.readouterr().out
    forecast = pd.read_csv(out, parse_dates=["date"])
    last = pd.read_csv(csv, parse_dates=["date"])["date"].iloc[-1]
    assert list(forecast["date"]) == list(pd.date_range(last, periods=8, freq="D")[1:])
    assert forecast["load"].notna().all()


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
