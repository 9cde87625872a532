"""Skill against seasonal naive and repeat-last: seasons from frequencies, the baseline itself, the run's report."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from sparsecast.cli import main
from sparsecast.forecasting.experiment import INFORMER_OWN_SERIES
from sparsecast.forecasting.skill import seasonal_naive
from sparsecast.timefeatures import season_length


@pytest.mark.parametrize("freq,season", [("h", 24), ("15min", 96), ("10min", 144), ("D", 7), ("B", 5),
                                         ("W-SUN", 52), ("ME", 12), ("QE", 4), ("YE", 1)])
def test_season_from_the_frequency(freq, season):
    assert season_length(freq) == season


def test_seasonal_naive_repeats_the_last_season():
    history = torch.arange(10.0).view(1, 10, 1)  # season 4: the last season is 6, 7, 8, 9
    assert seasonal_naive(history, 4, 6).flatten().tolist() == [6, 7, 8, 9, 6, 7]


def _periodic_csv(tmp_path):
    """An hourly CSV of 600 rows of an exact daily sine: seasonal naive is perfect, so no model beats it."""
    t = np.arange(600)
    df = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=len(t), freq="h"),
                       "OT": np.sin(2 * np.pi * t / 24)})
    csv = tmp_path / "periodic.csv"
    df.to_csv(csv, index=False)
    return csv


def test_every_run_reports_skill_and_warns_without_it(tmp_path, capsys):
    csv = _periodic_csv(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--features", "S", "--model", "dlinear", "--seq-len", "48",
                 "--label-len", "24", "--pred-len", "12", "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "does not beat seasonal naive (season 24) on validation" in printed
    assert "seasonal naive (season 24)" in printed and "skill (MSE / seasonal naive's, below 1 beats it)" in printed
    skill = json.loads((out / "metrics.json").read_text())["skill"]
    assert skill["season"] == 24 and skill["baselines"]["seasonal_naive"]["mse"] < 1e-12
    assert skill["baselines"]["repeat_last"]["mse"] > 0.1
    assert skill["mase"] is None and skill["skill_vs_seasonal_naive"] is None  # a perfect baseline: no ratio
    assert main(["evaluate", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["skill"]["season"] == 24
    assert main(["evaluate", str(out)]) == 0  # for people: the lines train prints
    printed = capsys.readouterr().out
    assert "seasonal naive (season 24)" in printed and "repeat last" in printed and "re-scored" in printed


def test_an_informer_without_skill_on_a_csv_hints_at_the_flags_for_own_series(tmp_path, capsys):
    csv = _periodic_csv(tmp_path)
    tiny = ["--d-model", "16", "--n-heads", "2", "--d-ff", "16", "--e-layers", "1", "--seq-len", "48",
            "--label-len", "24", "--pred-len", "12", "--epochs", "1", "--no-progress"]
    for extra, hinted in (([], True), (["--revin"], False)):
        out = tmp_path / f"run{len(extra)}"
        assert main(["train", "--data", str(csv), "--features", "S", "--model", "informer", *tiny, *extra,
                     "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "does not beat seasonal naive (season 24) on validation" in printed
        assert ("hint: on a series of your own" in printed and INFORMER_OWN_SERIES in printed) == hinted


def test_train_says_so_when_the_test_windows_lose_to_seasonal_naive(tmp_path, capsys, monkeypatch):
    import sparsecast.forecasting as forecasting
    metrics = {"test": {"mse": 0.6, "mae": 0.5}, "test_original_units": {"mse": 37276617026.1647, "mae": 0.00012345},
               "test_windows": 10,
               "skill": {"season": 24, "skill_vs_seasonal_naive": 1.2, "mase": 0.8,
                         "baselines": {"seasonal_naive": {"mse": 0.5, "mae": 0.45},
                                       "repeat_last": {"mse": 0.9, "mae": 0.7}}},
               "intervals": None, "paper": None}
    monkeypatch.setattr(forecasting, "train_run", lambda *args, **kwargs: metrics)
    csv = tmp_path / "s.csv"
    assert main(["train", "--data", str(csv), "--out", str(tmp_path / "run"), "--no-progress", "--seq-len", "96"]) == 0
    printed = capsys.readouterr().out
    assert "MASE 0.800 (MAE over seasonal naive's in-sample MAE on the training rows)" in printed
    assert "test in original units   MSE 3.728e+10  MAE 0.0001234" in printed  # four significant digits
    assert "note: on these test windows the model does not beat seasonal naive (MSE 0.6000 against 0.5000)" in printed


def test_scores_note_when_repeating_the_last_value_beats_the_model(capsys):
    from sparsecast.cli.scores import print_test_scores
    metrics = {"test": {"mse": 0.0254, "mae": 0.1}, "test_original_units": {"mse": 1.0, "mae": 1.0},
               "test_windows": 10, "skill": {"season": 7, "skill_vs_seasonal_naive": 0.9, "mase": 0.8,
                                             "baselines": {"seasonal_naive": {"mse": 0.03, "mae": 0.1},
                                                           "repeat_last": {"mse": 0.0237, "mae": 0.1}}}}
    print_test_scores(metrics, auto=True)
    assert "note: on these test windows repeating the last value beats the model (MSE 0.0237 against 0.0254)" \
        in capsys.readouterr().out
    metrics["skill"]["baselines"]["repeat_last"]["mse"] = 0.03
    print_test_scores(metrics, auto=True)
    assert "repeating the last value" not in capsys.readouterr().out


def test_a_constant_target_trains_and_scores_without_ratios(tmp_path, capsys):
    n = 400  # every baseline is exact on a constant series, and so is LongPatch: no ratio to report, no warning
    df = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=n, freq="D"), "level": 5.0,
                       "other": np.sin(np.arange(n) / 3)})
    csv = tmp_path / "constant.csv"
    df.to_csv(csv, index=False)
    out = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--target", "level", "--model", "longpatch", "--pred-len", "7",
                 "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "does not beat seasonal naive" not in printed
    skill = json.loads((out / "metrics.json").read_text())["skill"]
    assert skill["baselines"]["repeat_last"]["mse"] == 0 and skill["skill_vs_repeat_last"] is None
    assert skill["skill_vs_seasonal_naive"] is None


def test_scores_say_why_skill_and_mase_disagree_and_never_compare_seasonal_naive_with_itself(capsys):
    from sparsecast.cli.scores import print_test_scores
    naive = {"mse": 0.5, "mae": 0.5}
    metrics = {"test": {"mse": 0.4, "mae": 0.45}, "test_original_units": {"mse": 1.0, "mae": 1.0}, "test_windows": 10,
               "skill": {"season": 24, "skill_vs_seasonal_naive": 0.8, "mase": 1.3,
                         "baselines": {"seasonal_naive": naive, "repeat_last": {"mse": 0.9, "mae": 0.7}}}}
    print_test_scores(metrics, model_name="longpatch")  # beats seasonal naive on the test windows, MASE above 1
    assert "skill and MASE disagree" in capsys.readouterr().out
    metrics["skill"]["mase"] = 0.9
    print_test_scores(metrics, model_name="longpatch")
    assert "disagree" not in capsys.readouterr().out
    metrics["test"], metrics["skill"]["skill_vs_seasonal_naive"], metrics["skill"]["mase"] = naive, 1.0, 1.4
    print_test_scores(metrics, auto=True, model_name="seasonal_naive")  # auto chose seasonal naive alone
    printed = capsys.readouterr().out
    assert "the model is seasonal naive: its skill is 1 by definition" in printed
    assert "does not beat seasonal naive" not in printed and "disagree" not in printed
