"""The statistical models: seasonal naive's values, statsforecast's models per window and channel, the same outputs
as the neural models (run folder, predict with future dates, save/load), and clear errors for bad settings."""

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import write_csv
from sparsecast import DataError, Forecaster
from sparsecast.cli import main
from sparsecast.models import StatisticalConfig
from sparsecast.models.statistical import SeasonalNaive

needs_stats = pytest.mark.skipif(importlib.util.find_spec("statsforecast") is None,
                                 reason="the statsforecast models need the 'stats' extra")


def _marks(B, n):
    return torch.zeros(B, n, 4)


def test_seasonal_naive_repeats_the_last_season():
    x = torch.arange(2 * 10 * 3, dtype=torch.float32).reshape(2, 10, 3)  # (B, L, C)
    model = SeasonalNaive(StatisticalConfig(enc_in=3, c_out=2, seq_len=10, pred_len=7, season=4))
    out = model(x, _marks(2, 10), _marks(2, 7))
    assert out.shape == (2, 7, 2)
    expected = x[:, [6, 7, 8, 9, 6, 7, 8], 1:]  # the last 4 steps, again and again
    torch.testing.assert_close(out, expected)


def test_season_from_the_frequency_and_bad_seasons_stop_with_one_clear_line():
    assert StatisticalConfig(freq="h").season_length == 24
    assert StatisticalConfig(freq="MS", seq_len=24).season_length == 12
    with pytest.raises(ValueError, match=r"the season \(24 steps\) is longer than the lookback \(seq_len 12\)"):
        StatisticalConfig(freq="h", seq_len=12)


def _monthly(n=120, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({"date": pd.date_range("2010-01-01", periods=n, freq="MS"),
                         "y": 50 + 0.3 * t + 5 * np.sin(2 * np.pi * t / 12) + rng.standard_normal(n)})


def test_seasonal_naive_forecaster_predicts_future_months_and_round_trips(tmp_path):
    df = _monthly()
    fc = Forecaster("seasonal_naive", target="y", features="S", pred_len=6).fit(df)
    future = fc.predict()
    assert list(future["date"]) == list(pd.date_range("2020-01-01", periods=6, freq="MS"))
    np.testing.assert_allclose(future["y"], df["y"].iloc[-12:-6], rtol=1e-5)  # one year back, in units
    fc.save(tmp_path / "sn")
    pd.testing.assert_frame_equal(Forecaster.load(tmp_path / "sn").predict(), future)
    assert not list((tmp_path / "sn").glob("*.pt"))


@needs_stats
@pytest.mark.parametrize("name", ["auto_ets", "auto_theta", "auto_arima"])
def test_statsforecast_models_fit_each_window_and_channel(name):
    from statsforecast import models
    from sparsecast.models.statistical import STATSFORECAST, statsforecast_class
    cls = statsforecast_class(name)
    assert cls is getattr(models, STATSFORECAST[name])
    from sparsecast.models import model_classes
    model_cls, cfg_cls = model_classes(name)
    cfg = cfg_cls(enc_in=2, c_out=2, seq_len=48, pred_len=6, freq="MS")
    rng = np.random.default_rng(0)
    t = np.arange(48)
    x = np.stack([np.stack([10 + np.sin(2 * np.pi * t / 12 + k + b) + 0.1 * rng.standard_normal(48)
                            for k in range(2)], -1) for b in range(3)])  # (B=3, L, C=2)
    out = model_cls(cfg)(torch.as_tensor(x, dtype=torch.float32), _marks(3, 48), _marks(3, 6))
    assert out.shape == (3, 6, 2)
    direct = cls(season_length=12).forecast(y=x[1, :, 0].astype(np.float32).astype(np.float64), h=6)["mean"]
    np.testing.assert_allclose(out[1, :, 0].numpy(), direct, rtol=1e-4, atol=1e-4)


@needs_stats
def test_auto_arima_approximates_long_searches_and_caps_long_seasonal_orders():
    from sparsecast.models.statistical import AutoARIMA
    monthly = AutoARIMA(StatisticalConfig(seq_len=120, pred_len=6, freq="MS"))
    assert monthly.options(120) == {"approximation": False}  # R's rule: short, season of 12
    assert monthly.options(151) == {"approximation": True}
    weekly = AutoARIMA(StatisticalConfig(seq_len=520, pred_len=52, freq="W"))
    assert weekly.options(520) == {"approximation": True, "max_P": 1, "max_Q": 1}
    rng = np.random.default_rng(0)
    t = np.arange(260)
    y = 10 + np.sin(2 * np.pi * t / 52) + 0.2 * rng.standard_normal(260)  # five years of weeks
    out = weekly(torch.as_tensor(y[None, :, None]), _marks(1, 260), _marks(1, 13))
    direct = weekly.model_cls(season_length=52, **weekly.options(260)).forecast(y=y, h=13)["mean"]
    np.testing.assert_allclose(out[0, :, 0].numpy(), direct)
    P, Q = weekly.model_cls(season_length=52, **weekly.options(260)).fit(y).model_["arma"][2:4]
    assert P <= 1 and Q <= 1


@needs_stats
def test_auto_ets_forecaster_and_cli_run_folder(tmp_path):
    df = _monthly(n=240)  # 20 years: a ten-season lookback leaves windows spanning 5 horizons for the intervals
    fc = Forecaster("auto_ets", target="y", features="S", pred_len=6).fit(df)
    future = fc.predict()
    assert list(future.columns) == ["date", "y", "y_q10", "y_q50", "y_q90"]
    truth = 50 + 0.3 * np.arange(240, 246) + 5 * np.sin(2 * np.pi * np.arange(240, 246) / 12)
    assert np.abs(future["y"] - truth).mean() < 2.0  # follows trend and season of the noise-free curve
    fc.save(tmp_path / "ets")
    pd.testing.assert_frame_equal(Forecaster.load(tmp_path / "ets").predict(), future)
    csv = write_csv(tmp_path / "s.csv", n=600)  # hourly: Theta finds the daily season in 5 days of lookback
    run = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--model", "auto_theta", "--features", "S", "--seq-len", "120",
                 "--pred-len", "6", "--no-progress", "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["mse"] < 0.1 * metrics["skill"]["baselines"]["repeat_last"]["mse"]


def test_missing_extra_names_the_install(monkeypatch, tmp_path, capsys):
    """In Python an ImportError that names the install; on the command line that line alone, exit status 2."""
    import builtins
    real = builtins.__import__

    def no_statsforecast(name, *args, **kwargs):
        if name.startswith("statsforecast"):
            raise ImportError("no statsforecast here")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_statsforecast)
    with pytest.raises(ImportError, match=r"pip install 'sparsecast\[stats\]'"):
        Forecaster("auto_ets", target="y", features="S", pred_len=6).fit(_monthly())
    csv = tmp_path / "m.csv"
    _monthly().to_csv(csv, index=False)
    assert main(["train", "--data", str(csv), "--model", "auto_ets", "--target", "y", "--seq-len", "24",
                 "--pred-len", "6", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "needs statsforecast: pip install 'sparsecast[stats]'" in err and len(err.splitlines()) == 1


def test_short_series_for_a_season_stops_with_one_clear_line():
    with pytest.raises((DataError, ValueError), match="season"):
        Forecaster("seasonal_naive", target="y", features="S", pred_len=2, seq_len=6).fit(_monthly(n=60))
