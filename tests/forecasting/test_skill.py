"""Skill against seasonal naive and repeat-last: seasons from frequencies, the baseline itself, the run's report."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from sparsecast.cli import main
from sparsecast.forecasting.skill import seasonal_naive
from sparsecast.timefeatures import season_length


@pytest.mark.parametrize("freq,season", [("h", 24), ("15min", 96), ("10min", 144), ("D", 7), ("B", 5),
                                         ("W-SUN", 52), ("ME", 12), ("QE", 4), ("YE", 1)])
def test_season_from_the_frequency(freq, season):
    assert season_length(freq) == season


def test_seasonal_naive_repeats_the_last_season():
    history = torch.arange(10.0).view(1, 10, 1)  # season 4: the last season is 6, 7, 8, 9
    assert seasonal_naive(history, 4, 6).flatten().tolist() == [6, 7, 8, 9, 6, 7]


def test_every_run_reports_skill_and_warns_without_it(tmp_path, capsys):
    n = 600
    t = np.arange(n)
    df = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=n, freq="h"), "OT": np.sin(2 * np.pi * t / 24)})
    csv = tmp_path / "periodic.csv"
    df.to_csv(csv, index=False)  # exactly periodic: seasonal naive is perfect, so no model beats it
    out = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--features", "S", "--model", "dlinear", "--seq-len", "48",
                 "--label-len", "24", "--pred-len", "12", "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "does not beat seasonal naive (season 24) on validation" in printed
    assert "seasonal naive (season 24)" in printed and "skill (MSE / seasonal naive's)" in printed
    skill = json.loads((out / "metrics.json").read_text())["skill"]
    assert skill["season"] == 24 and skill["baselines"]["seasonal_naive"]["mse"] < 1e-12
    assert skill["baselines"]["repeat_last"]["mse"] > 0.1
    assert skill["mase"] is None and skill["skill_vs_seasonal_naive"] is None  # a perfect baseline: no ratio
    assert main(["evaluate", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["skill"]["season"] == 24
