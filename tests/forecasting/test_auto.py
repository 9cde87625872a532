"""model="auto": the candidates are weighted by how well they forecast the held-out horizons, from the data given to
fit only, and the weighted mean (or the one candidate left) is what predict, backtest and save/load use."""

import importlib.util

import numpy as np
import pandas as pd
import pytest
import torch

from sparsecast import DataError, Forecaster
from sparsecast.forecasting import auto as auto_module


def _hourly(values):
    return pd.DataFrame({"date": pd.date_range("2021-01-01", periods=len(values), freq="h"), "y": values})


def _seasonal(n=600):
    return _hourly(10 + 3 * np.sin(2 * np.pi * np.arange(n) / 24))  # seasonal naive is exact


def _random_walk(n=600, seed=0):
    return _hourly(100 + np.cumsum(np.random.default_rng(seed).standard_normal(n)))  # the last value is best


@pytest.mark.parametrize("frame, winner", [(_seasonal, "seasonal_naive"), (_random_walk, "repeat_last")])
def test_auto_weights_most_the_candidate_that_wins_on_held_out_horizons(frame, winner, monkeypatch, capsys):
    monkeypatch.setattr(auto_module, "AUTO_CANDIDATES", ("repeat_last", "seasonal_naive"))
    df = frame()
    fc = Forecaster("auto", target="y", features="S", pred_len=12).fit(df)
    report = fc.auto_report
    scores, weights = report["validation_mse"], report["weights"]
    assert set(scores) == {"repeat_last", "seasonal_naive"} and scores[winner] == min(scores.values())
    assert report["chosen"] == winner and weights[winner] == max(weights.values())
    assert sum(weights.values()) == pytest.approx(1)
    assert fc.model_name == (winner if len(weights) == 1 else "ensemble")
    printed = capsys.readouterr().out
    assert f"-> {winner}" in printed  # fit says what it chose and each candidate's score
    assert "auto: scoring repeat_last, fit on the rows before the last" in printed  # and heads each fit
    assert len(fc.predict()) == 12


def test_a_seasonal_series_is_left_to_seasonal_naive_alone(monkeypatch):
    monkeypatch.setattr(auto_module, "AUTO_CANDIDATES", ("repeat_last", "seasonal_naive"))
    fc = Forecaster("auto", target="y", features="S", pred_len=12).fit(_seasonal())
    assert fc.auto_report["weights"] == {"seasonal_naive": 1.0} and fc.model_name == "seasonal_naive"


def _trend_and_season(n=600, seed=1):
    t = np.arange(n)
    noise = np.random.default_rng(seed).standard_normal(n)
    return _hourly(0.02 * t + 2 * np.sin(2 * np.pi * t / 24) + np.cumsum(noise) * 0.3)


def test_auto_averages_on_short_series_and_keeps_the_best_alone_on_long_ones(monkeypatch):
    monkeypatch.setattr(auto_module, "AUTO_CANDIDATES", ("repeat_last", "seasonal_naive"))
    short = Forecaster("auto", target="y", features="S", pred_len=12).fit(_trend_and_season())
    assert short.auto_report["rule"] == auto_module.AUTO_RULE == "inverse" and short.model_name == "ensemble"
    assert short.auto_report["rows"] == 600
    long = Forecaster("auto", target="y", features="S", pred_len=12).fit(_trend_and_season(n=auto_module.LONG_ROWS))
    report = long.auto_report
    assert report["rule"] == "choice" and report["rows"] == auto_module.LONG_ROWS
    assert long.model_name == report["chosen"] == min(report["validation_mse"], key=report["validation_mse"].get)
    assert report["weights"] == {report["chosen"]: 1.0}


def test_the_ensemble_forecasts_the_weighted_mean_of_its_members_fit_alone(monkeypatch, tmp_path):
    monkeypatch.setattr(auto_module, "AUTO_CANDIDATES", ("repeat_last", "seasonal_naive"))
    df = _trend_and_season()
    fc = Forecaster("auto", target="y", features="S", pred_len=12).fit(df)
    weights = fc.auto_report["weights"]
    assert fc.model_name == "ensemble" and len(weights) == 2  # both forecast this series about as well
    alone = {n: Forecaster(n, target="y", features="S", pred_len=12).fit(df).predict()["y"] for n in weights}
    expected = sum(w * alone[n] for n, w in weights.items())
    np.testing.assert_allclose(fc.predict()["y"], expected, rtol=1e-5)
    bt = fc.backtest(df, windows=3)
    assert len(bt) == 3 and np.isfinite(bt["mse"]).all()
    fc.save(tmp_path / "ensemble")
    loaded = Forecaster.load(tmp_path / "ensemble")
    assert loaded.model_name == "ensemble" and loaded.auto_report == fc.auto_report
    pd.testing.assert_frame_equal(loaded.predict(), fc.predict())


def test_validation_fits_candidates_on_the_rows_before_the_held_out_horizons_only(monkeypatch):
    monkeypatch.setattr(auto_module, "AUTO_CANDIDATES", ("repeat_last", "seasonal_naive"))
    fitted_on = []
    original = Forecaster.fit
    monkeypatch.setattr(Forecaster, "fit", lambda self, df: fitted_on.append(len(df)) or original(self, df))
    df = _seasonal()
    report = Forecaster("auto", target="y", features="S", pred_len=12).validate(df, ["repeat_last", "seasonal_naive"])
    assert fitted_on == [len(df) - report["windows"] * 12] * 2
    poisoned = df.copy()
    poisoned.loc[len(df) - report["windows"] * 12:, "y"] += 1e6  # the held-out rows are scored, never fit on
    again = Forecaster("auto", target="y", features="S", pred_len=12).validate(poisoned, ["seasonal_naive"])
    assert again["validation_mse"]["seasonal_naive"] > 1e10


def test_validation_on_a_given_number_of_held_out_horizons_scores_those_rows():
    df = _random_walk()
    fc = Forecaster("auto", target="y", features="S", pred_len=12)
    chosen = fc.validate(df, ["repeat_last"])
    assert chosen["windows"] > 1
    one = fc.validate(df, ["repeat_last"], windows=1)
    assert one["windows"] == 1 and one["validation_mse"]["repeat_last"] != chosen["validation_mse"]["repeat_last"]
    errors = (df["y"].iloc[-12:] - df["y"].iloc[-13]) ** 2  # the one origin of one held-out horizon: the last value
    assert one["validation_mse"]["repeat_last"] == pytest.approx(errors.mean())  # of the rows before it, 12 steps
    assert fc.validate(df, ["repeat_last"], windows=chosen["windows"]) == chosen


def test_default_candidates_round_trip_through_save_and_load(tmp_path):
    df = _seasonal(n=500)
    fc = Forecaster("auto", target="y", features="S", pred_len=12, epochs=1, progress=False).fit(df)
    report = fc.auto_report
    assert {"longpatch", "seasonal_naive"} <= set(report["validation_mse"]) | set(report["skipped"])
    assert fc.model_name in (report["chosen"], "ensemble") and fc.model_name != "auto"
    fc.save(tmp_path / "auto")
    loaded = Forecaster.load(tmp_path / "auto")
    assert loaded.model_name == fc.model_name and loaded.auto_report == report
    pd.testing.assert_frame_equal(loaded.predict(), fc.predict())


def test_a_short_yearly_series_ends_up_on_a_statistical_model():
    t = np.arange(40)
    df = pd.DataFrame({"date": pd.date_range("1985-01-01", periods=40, freq="YS"), "y": 100 + 3 * t + np.sin(t)})
    fc = Forecaster("auto", target="y", features="S", pred_len=6, progress=False).fit(df)
    if importlib.util.find_spec("statsforecast"):  # without the extra, seasonal naive and DLinear are all it has
        assert set(fc.auto_report["weights"]) <= {"seasonal_naive", "auto_ets", "auto_arima"}
    assert "longpatch" in fc.auto_report["skipped"] and len(fc.predict()) == 6


def test_auto_on_a_series_too_short_to_validate_stops_with_one_clear_line():
    # one held-out horizon leaves 14 rows, too few for every candidate: each one's reason, on one line
    with pytest.raises(DataError, match=r"could not validate any candidate: it held out the last 1 horizon\(s\) of 6 "
                                        r"steps and fit each on the 14 rows before them \(.*longpatch: .*"
                                        r"seasonal_naive: .*\); give more rows or a shorter horizon \(--pred-len") as e:
        Forecaster("auto", target="y", features="S", pred_len=6).fit(_seasonal(n=20))
    assert "\n" not in str(e.value) and str(e.value).count("give ") == 1  # the remedy once, not per candidate
    # not even one horizon to hold out
    with pytest.raises(DataError, match="validates on the last horizon of 24 steps and fits on the rows before it, "
                                        "but the DataFrame has 20 rows"):
        Forecaster("auto", target="y", features="S", pred_len=24).fit(_seasonal(n=20))


def test_auto_refuses_model_settings():
    with pytest.raises(ValueError, match="model='auto' takes data and training settings only"):
        Forecaster("auto", d_model=64)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_a_missing_gpu_stops_auto_instead_of_skipping_its_trained_candidates():
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        Forecaster("auto", target="y", features="S", pred_len=12, device="cuda").fit(_seasonal())


def test_a_wrong_target_stops_auto_with_the_same_line_as_a_single_model():
    with pytest.raises(DataError, match="target column 'price' not in the DataFrame"):
        Forecaster("auto", target="price", pred_len=6).fit(_seasonal())


def test_the_default_model_is_auto():
    assert Forecaster(target="y", pred_len=6).model_name == "auto"


def test_an_ensemble_of_trained_members_round_trips_with_intervals(monkeypatch, tmp_path):
    monkeypatch.setattr(auto_module, "AUTO_CANDIDATES", ("dlinear", "seasonal_naive"))
    monkeypatch.setattr(auto_module, "AUTO_RULE", "mean")  # both members, whatever their scores
    df = _trend_and_season(n=900)
    fc = Forecaster("auto", target="y", features="S", pred_len=12, epochs=1, progress=False).fit(df)
    assert fc.model_name == "ensemble" and fc.intervals is not None  # calibrated on the validation windows
    assert any(p.numel() for p in fc.model.parameters())
    fc.save(tmp_path / "trained")
    loaded = Forecaster.load(tmp_path / "trained")
    pd.testing.assert_frame_equal(loaded.predict(), fc.predict())


def test_an_ensemble_on_long_format_scales_each_series_as_its_members_do(monkeypatch, tmp_path):
    monkeypatch.setattr(auto_module, "AUTO_CANDIDATES", ("repeat_last", "seasonal_naive"))
    monkeypatch.setattr(auto_module, "AUTO_RULE", "mean")
    a, b = _trend_and_season(seed=1), _trend_and_season(seed=2)
    df = pd.concat([a.rename(columns={"date": "ds"}).assign(unique_id="a"),
                    b.assign(y=b["y"] * 100 + 5000).rename(columns={"date": "ds"}).assign(unique_id="b")])
    fc = Forecaster("auto", pred_len=12).fit(df)
    assert fc.model_name == "ensemble"
    alone = {n: Forecaster(n, pred_len=12).fit(df) for n in fc.auto_report["weights"]}
    for uid in ("a", "b"):
        for member in alone.values():
            np.testing.assert_allclose(member.series[uid][0].scaler.mean, fc.series[uid][0].scaler.mean)
    future = fc.predict()
    expected = sum(w * alone[n].predict()["y"].to_numpy() for n, w in fc.auto_report["weights"].items())
    np.testing.assert_allclose(future["y"].to_numpy(), expected, rtol=1e-5)
    assert set(future["unique_id"]) == {"a", "b"}
    fc.save(tmp_path / "long")
    pd.testing.assert_frame_equal(Forecaster.load(tmp_path / "long").predict(), future)


def test_fitting_an_auto_forecaster_again_chooses_again(monkeypatch):
    monkeypatch.setattr(auto_module, "AUTO_CANDIDATES", ("repeat_last", "seasonal_naive"))
    fc = Forecaster("auto", target="y", features="S", pred_len=12).fit(_trend_and_season())
    assert fc.fit(_seasonal()).auto_report["weights"] == {"seasonal_naive": 1.0}


def test_fitting_again_keeps_what_the_caller_asked_of_the_fit(monkeypatch):
    """with_intervals and notes survive auto's re-inits, on the first fit and on a second one."""
    monkeypatch.setattr(auto_module, "AUTO_CANDIDATES", ("repeat_last", "seasonal_naive"))
    fc = Forecaster("auto", target="y", features="S", pred_len=12)
    for _ in range(2):
        fc.with_intervals = fc.notes = False
        fc.fit(_seasonal())
        assert (fc.with_intervals, fc.notes, fc.intervals) == (False, False, None)


def test_a_kept_choice_fits_its_weighted_candidates_without_validating(monkeypatch):
    """auto_choice (what a scored run's refit gets): no candidate is validated; where the best validated one was
    dropped (it failed on all the rows) and one other is left, that one is fit, not the dropped best."""
    monkeypatch.setattr(auto_module, "validate", lambda *a, **k: pytest.fail("validated again"))
    fc = Forecaster("auto", target="y", features="S", pred_len=12)
    fc.auto_choice = {"chosen": "repeat_last", "weights": {"seasonal_naive": 1.0}, "rule": "inverse", "windows": 3,
                      "rows": 600, "validation_mse": {"repeat_last": 0.5, "seasonal_naive": 0.9},
                      "skipped": {"repeat_last": "validated, but failed on all the rows: ..."}}
    fc.fit(_seasonal())
    assert fc.model_name == "seasonal_naive" and fc.auto_report["weights"] == {"seasonal_naive": 1.0}


def test_a_candidate_too_costly_on_sub_daily_data_is_left_out_of_it_with_why():
    ten_minutes = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=2000, freq="10min"),
                                "y": 10 + np.sin(2 * np.pi * np.arange(2000) / 144)})  # a daily season of 144 steps
    report = Forecaster("auto", target="y", features="S", pred_len=12).validate(ten_minutes,
                                                                               ["repeat_last", "auto_arima"])
    assert set(report["validation_mse"]) == {"repeat_last"}
    assert report["skipped"]["auto_arima"].startswith("left out of sub-daily data (10min)")
    daily = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=400, freq="D"),
                          "y": 10 + np.sin(2 * np.pi * np.arange(400) / 7)})
    assert Forecaster("auto", target="y", features="S", pred_len=7).validate(daily, ["repeat_last"])["skipped"] == {}
