"""The Python API: future timestamps, original units, save/load, backtests that never see the future."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from helpers import write_csv
from sparsecast import DataError, Forecaster
from sparsecast.cli import build_parser, main
from sparsecast.forecasting.predict import forecast_at

TINY = dict(seq_len=24, label_len=12, pred_len=6, d_model=16, n_heads=2, d_ff=32, epochs=1, progress=False)


def _frame(freq, n=300, **kw):
    dates = pd.date_range("2021-01-04", periods=n, freq=freq)
    t = np.arange(n)
    return pd.DataFrame({"date": dates, "x": np.cos(t / 5.0), "OT": 100 + 10 * np.sin(t / 7.0), **kw})


@pytest.mark.parametrize("freq", ["h", "15min", "D", "W-MON", "B", "MS"])
def test_predict_continues_the_frequency(freq):
    df = _frame(freq)
    fc = Forecaster("longpatch", features="MS", **TINY).fit(df)
    future = fc.predict()
    expected = pd.date_range(df["date"].iloc[-1], periods=7, freq=freq)[1:]
    assert list(future["date"]) == list(expected)
    assert list(future.columns) == ["date", "OT", "OT_q10", "OT_q50", "OT_q90"]


def test_forecasts_are_in_original_units_and_inverse_scaling_round_trips():
    df = _frame("h")
    fc = Forecaster(model="repeat_last", features="S", seq_len=24, label_len=12, pred_len=6).fit(df)
    future = fc.predict()
    np.testing.assert_allclose(future["OT"], df["OT"].iloc[-1], rtol=1e-6)  # repeat-last in original units


def test_datetime_index_and_predict_after_other_history():
    df = _frame("h").set_index("date")
    fc = Forecaster("longpatch", features="M", **TINY).fit(df)
    recent = df.iloc[:100]
    future = fc.predict(recent)
    assert future["date"].iloc[0] == recent.index[-1] + pd.Timedelta(hours=1)
    assert list(future.columns) == ["date", "x", "OT", "x_q10", "x_q50", "x_q90", "OT_q10", "OT_q50", "OT_q90"]


def test_save_load_gives_identical_predictions(tmp_path):
    df = _frame("h")
    fc = Forecaster("longpatch", features="MS", attn="probsparse", **TINY).fit(df)
    fc.save(tmp_path / "fc")
    loaded = Forecaster.load(tmp_path / "fc")
    pd.testing.assert_frame_equal(loaded.predict(), fc.predict())
    pd.testing.assert_frame_equal(loaded.predict(df.iloc[:150]), fc.predict(df.iloc[:150]))
    assert not list(tmp_path.glob("fc/*.pt")) and not list(tmp_path.glob("fc/*.pkl"))


def test_train_on_val_trains_again_on_the_validation_windows_for_the_epochs_validation_chose(monkeypatch):
    """train_on_val=True: the validated run is the plain fit's; then a fresh start, same seed, trains on the
    training and validation windows together for the kept epoch's count, without validating; the intervals stay
    the held-out ones."""
    import sparsecast.forecaster as forecaster_module
    import sparsecast.training.train_on_val as train_on_val_module

    calls, real = [], forecaster_module.fit

    def spy(model, train, val, cfg, **kw):
        calls.append((len(train.windows), None if val is None else len(val.windows), cfg.epochs))
        return real(model, train, val, cfg, **kw)

    monkeypatch.setattr(forecaster_module, "fit", spy)
    monkeypatch.setattr(train_on_val_module, "fit", spy)
    df = _frame("h", n=600)
    settings = dict(features="S", seq_len=48, pred_len=12, epochs=4, patience=4, lr=1e-3, progress=False)
    plain = Forecaster("dlinear", **settings).fit(df)
    fc = Forecaster("dlinear", train_on_val=True, **settings).fit(df)
    (n_train, n_val, epochs), again, (n_all, no_val, again_epochs) = calls
    assert again == (n_train, n_val, epochs) == (n_train, n_val, 4)
    assert no_val is None and n_all == n_train + n_val and again_epochs == fc.history.best_epoch + 1
    assert fc.history.val_loss == plain.history.val_loss and len(fc.all_windows_history.train_loss) == again_epochs
    np.testing.assert_array_equal(fc.intervals.offsets, plain.intervals.offsets)
    assert not np.allclose(fc.predict()["OT"], plain.predict()["OT"])  # the weights trained again forecast
    assert Forecaster("dlinear", train_on_val=True, **settings).fit(df).predict().equals(fc.predict())  # repeatable


def test_train_on_val_solves_longpatch_s_validated_start_on_every_window(monkeypatch):
    """LongPatch's closed-form start, trained again: the choice its validated start made (ridge, offsets, skip kind),
    solved on the training and validation windows with none held out."""
    from sparsecast.models import LongPatch

    starts, real = [], LongPatch.init_from_data

    def spy(self, batches, val_batches=()):
        batches, val_batches = list(batches), list(val_batches)
        error = real(self, batches, val_batches)
        starts.append((sum(len(b.x) for b in batches), sum(len(b.x) for b in val_batches), self.given_choice,
                       self.start_choice))
        return error

    monkeypatch.setattr(LongPatch, "init_from_data", spy)
    df = _frame("D", n=500)
    Forecaster("longpatch", features="S", seq_len=28, pred_len=7, epochs=2, progress=False, quantiles=(),
               train_on_val=True).fit(df)
    (n_train, n_val, given, chosen), (n_all, no_val, again_given, again_chosen) = starts
    assert given is None and chosen is not None and n_val > 0
    assert (n_all, no_val, again_given, again_chosen) == (n_train + n_val, 0, chosen, None)


def test_a_run_scored_on_a_test_split_refuses_train_on_val(tmp_path):
    from sparsecast.data import DataConfig
    from sparsecast.forecasting import train_run
    from sparsecast.training import TrainConfig
    with pytest.raises(ValueError, match="train_on_val is a Forecaster setting"):
        train_run(DataConfig(), "dlinear", {}, TrainConfig(train_on_val=True), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_backtest_windows_never_see_the_future():
    df = _frame("h", n=400)
    fc = Forecaster("longpatch", features="MS", **TINY).fit(df.iloc[:300])  # 30 validation rows: 5 horizons for intervals
    result = fc.backtest(df, windows=4, stride=10)
    assert len(result) == 4 and (result["mse"] >= 0).all()
    assert list(result.columns) == ["origin", "mse", "mae", "rmse", "wape", "coverage_0.1-0.9", "pinball",
                                    "seasonal_naive_mse", "skill"]
    origins = list(result["origin"])
    assert origins[-1] == df["date"].iloc[-6] and origins[1] - origins[0] == pd.Timedelta(hours=10)
    # changing everything from an origin on leaves that window's forecast unchanged
    poisoned = df.copy()
    first = df.index[df["date"] == origins[0]][0]
    poisoned.loc[first:, ["x", "OT"]] = 1e6
    again = fc.backtest(poisoned, windows=4, stride=10)
    before = fc.backtest(df, windows=4, stride=10)
    spec = fc.series[None][0]
    a = forecast_at(fc.model, spec, df, [first])
    b = forecast_at(fc.model, spec, poisoned, [first])
    np.testing.assert_allclose(a[0], b[0])  # the point forecasts
    np.testing.assert_allclose(a[1], b[1])  # and their quantiles
    assert again["mse"].iloc[0] != before["mse"].iloc[0]  # the truth changed, the forecast did not


def test_unfitted_and_short_history_errors():
    with pytest.raises(DataError, match="not fitted"):
        Forecaster().predict()
    fc = Forecaster("longpatch", features="MS", **TINY).fit(_frame("h"))
    with pytest.raises(DataError, match="the model reads the last 24 rows"):
        fc.predict(_frame("h", n=10))
    with pytest.raises(DataError, match="lacks column"):
        fc.predict(_frame("h").drop(columns=["x"]))


def test_cli_predict_writes_future_rows_and_a_plot(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=400)
    run = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--features", "S", "--seq-len", "24", "--label-len", "12",
                 "--pred-len", "6", "--d-model", "16", "--n-heads", "2", "--d-ff", "32", "--epochs", "1",
                 "--no-progress", "--out", str(run)]) == 0
    out, plot = tmp_path / "f.csv", tmp_path / "f.png"
    assert main(["predict", str(run), "--input", str(csv), "--out", str(out), "--plot", str(plot)]) == 0
    forecast = pd.read_csv(out, parse_dates=["date"])
    last = pd.read_csv(csv, parse_dates=["date"])["date"].iloc[-1]
    assert len(forecast) == 6 and forecast["date"].iloc[0] == last + pd.Timedelta(hours=1)
    assert plot.stat().st_size > 1000


def test_time_zone_aware_timestamps_keep_their_zone_across_a_daylight_saving_change(tmp_path):
    df = _frame("h").assign(date=pd.date_range("2021-03-20", periods=300, freq="h", tz="Europe/Berlin"))
    fc = Forecaster("longpatch", features="MS", **TINY).fit(df)  # the clocks move on 2021-03-28, row 193
    future = fc.predict(df)
    assert list(future["date"]) == list(pd.date_range(df["date"].iloc[-1], periods=7, freq="h")[1:])
    assert str(future["date"].dt.tz) == "Europe/Berlin"
    assert (fc.backtest(df, windows=2)["origin"].dt.tz is not None)
    with pytest.warns(UserWarning, match="no prediction intervals"):  # too few validation rows for them
        early = Forecaster("longpatch", features="MS", **TINY).fit(df.iloc[:200])  # recent rows: both offsets
    early.save(tmp_path / "fc")
    pd.testing.assert_frame_equal(Forecaster.load(tmp_path / "fc").predict(), early.predict())
    # The CLI on text with one offset (UTC): forecasts carry it.
    csv = tmp_path / "utc.csv"
    df.assign(date=df["date"].dt.tz_convert("UTC")).to_csv(csv, index=False)
    run, out = tmp_path / "run", tmp_path / "f.csv"
    assert main(["train", "--data", str(csv), "--features", "S", "--seq-len", "24", "--label-len", "12",
                 "--pred-len", "6", "--d-model", "16", "--n-heads", "2", "--d-ff", "32", "--epochs", "1",
                 "--no-progress", "--no-refit", "--out", str(run)]) == 0
    assert main(["predict", str(run), "--input", str(csv), "--out", str(out), "--plot", str(tmp_path / "f.png")]) == 0
    first = (df["date"].iloc[-1] + pd.Timedelta(hours=1)).tz_convert("UTC")
    assert out.read_text().splitlines()[1].startswith(str(first))  # "2021-04-01 11:00:00+00:00"


def test_a_series_on_a_datetime_index_fits_predicts_and_backtests():
    df = _frame("h")
    series = df.set_index("date")["OT"]
    fc = Forecaster("repeat_last", seq_len=24, label_len=12, pred_len=6).fit(series)
    future = fc.predict()
    assert list(future.columns[:2]) == ["date", "OT"] and future["date"].iloc[0] == df["date"].iloc[-1] + pd.Timedelta(hours=1)
    np.testing.assert_allclose(fc.predict(series.iloc[:100])["OT"], series.iloc[99], rtol=1e-6)
    assert len(fc.backtest(series, windows=2)) == 2
    assert "y" in Forecaster("repeat_last", seq_len=24, pred_len=6).fit(series.rename(None)).predict().columns


def _long(n=200, ids=("a", "b", "c")):
    t = np.arange(n)
    return pd.concat([pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2022-01-01", periods=n, freq="h"),
                                    "y": 10 * (k + 1) + (k + 1) * np.sin(t / 6.0 + k)})
                      for k, uid in enumerate(ids)], ignore_index=True)


def test_long_format_fits_one_model_and_predicts_every_series(tmp_path):
    df = _long()
    fc = Forecaster(model="repeat_last", seq_len=24, label_len=12, pred_len=6).fit(df)
    future = fc.predict()
    assert list(future.columns) == ["unique_id", "ds", "y", "y_q10", "y_q50", "y_q90"] and len(future) == 18
    for uid, group in df.groupby("unique_id"):
        mine = future[future["unique_id"] == uid]
        np.testing.assert_allclose(mine["y"], group["y"].iloc[-1], rtol=1e-6)  # each series in its own units
        assert mine["ds"].iloc[0] == group["ds"].iloc[-1] + pd.Timedelta(hours=1)
    fc.save(tmp_path / "long")
    pd.testing.assert_frame_equal(Forecaster.load(tmp_path / "long").predict(), future)


def test_long_format_trains_a_model_and_backtests_each_series():
    fc = Forecaster("longpatch", **TINY).fit(_long())
    assert len(fc.predict(_long(n=100, ids=("b",)))) == 6
    result = fc.backtest(_long(), windows=2, stride=6)
    assert list(result["unique_id"]) == ["a", "a", "b", "b", "c", "c"]
    with pytest.raises(DataError, match="not in the data given to fit"):
        fc.predict(_long(ids=("zzz",)))


def test_filled_backtest_reads_nothing_at_or_after_its_origin():
    n = 120
    df = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=n, freq="h"), "OT": np.arange(n, dtype=float)})
    fc = Forecaster("repeat_last", seq_len=24, pred_len=6, features="S", fill="interpolate").fit(df.iloc[:90])
    origin = 100
    poisoned = df.copy()
    poisoned.loc[origin - 1, "OT"] = np.nan  # the last lookback row is missing
    spec = fc.series[None][0]
    before, _ = forecast_at(fc.model, spec, poisoned, [origin])
    poisoned.loc[origin:, "OT"] = 1e6  # the future changes: a causal fill must not see it
    after, _ = forecast_at(fc.model, spec, poisoned, [origin])
    np.testing.assert_allclose(before, after)
    assert before[0, 0, 0] == pytest.approx(origin - 2)  # filled from the rows before it only


def test_fill_puts_predict_and_backtest_on_the_fitted_grid():
    dates = pd.date_range("2021-01-01", periods=200, freq="h").delete([150, 151, 152])  # a 3-hour gap
    df = pd.DataFrame({"date": dates, "OT": np.sin(np.arange(len(dates)) / 4.0)})
    fc = Forecaster("repeat_last", seq_len=24, pred_len=6, features="S", fill="ffill").fit(df)
    recent = fc.series[None][1]
    assert len(recent) == 24 and (pd.DatetimeIndex(recent["date"]).to_series().diff().dropna()
                                  == pd.Timedelta(hours=1)).all()
    result = fc.backtest(df, windows=3, stride=4)
    assert (result["origin"].diff().dropna() == pd.Timedelta(hours=4)).all() and result["mse"].notna().all()


def _hourly_profile(n, start="2021-03-01 00:00", seed=0):
    """An hourly series whose level is a fixed, irregular profile of the hour of the day, plus noise."""
    rng = np.random.default_rng(seed)
    profile = 2 * rng.standard_normal(24)  # no shorter period: a few hours of history cannot tell the hour
    dates = pd.date_range(start, periods=n, freq="h")
    return pd.DataFrame({"date": dates, "OT": profile[dates.hour] + 0.1 * rng.standard_normal(n)}), profile


def test_longpatch_forecasts_the_seasonal_profile_of_the_real_future_hours():
    # A lookback of 4 hours cannot tell the hour of the day; the seasonal offsets, read from the timestamps, can.
    # (RevIN is off: over 4 hours a window's std changes with the hour, and the offsets live in RevIN's units;
    # deseason, which hourly data gets by default, is off to see the offsets alone.)
    df, profile = _hourly_profile(2000)  # training windows span more than MIN_SEASONS days
    kwargs = dict(target="OT", features="S", pred_len=12, seq_len=4, patch_len=4, patch_stride=2, revin=False,
                  deseason=False, epochs=1, progress=False)
    fc = Forecaster("longpatch", **kwargs).fit(df)
    future = fc.predict(df.iloc[-200:])  # a later frame of the series: the phase comes from its dates
    truth = profile[pd.DatetimeIndex(future["date"]).hour]
    assert np.abs(future["OT"].to_numpy() - truth).max() < 0.5  # noise 0.1
    without = Forecaster("longpatch", season_offsets=False, **kwargs).fit(df).predict(df.iloc[-200:])
    assert np.abs(without["OT"].to_numpy() - truth).max() > 2  # without them the hour is unknown


def test_deseason_gives_any_model_the_seasonal_profile_and_survives_save_load(tmp_path):
    # Even repeating the last value forecasts the hours' profile once the profile is taken out and put back.
    df, profile = _hourly_profile(2000, seed=1)
    kwargs = dict(target="OT", features="S", pred_len=12, seq_len=4, progress=False)
    fc = Forecaster("repeat_last", deseason=True, **kwargs).fit(df)
    future = fc.predict(df.iloc[-200:])
    truth = profile[pd.DatetimeIndex(future["date"]).hour]
    assert np.abs(future["OT"].to_numpy() - truth).max() < 0.5  # noise 0.1
    fc.save(tmp_path / "fc")
    again = Forecaster.load(tmp_path / "fc").predict(df.iloc[-200:])
    np.testing.assert_allclose(again["OT"].to_numpy(), future["OT"].to_numpy(), rtol=1e-6)
    without = Forecaster("repeat_last", **kwargs).fit(df).predict(df.iloc[-200:])
    assert np.abs(without["OT"].to_numpy() - truth).max() > 2


def test_longpatch_on_hourly_data_deseasons_by_default():
    df, profile = _hourly_profile(2000, seed=2)
    fc = Forecaster("longpatch", target="OT", features="S", pred_len=12, seq_len=4, patch_len=4, patch_stride=2,
                    epochs=1, progress=False).fit(df)
    assert fc.series_cfg.deseason and fc.series_cfg.profile_len == 24
    future = fc.predict(df.iloc[-200:])
    assert np.abs(future["OT"].to_numpy() - profile[pd.DatetimeIndex(future["date"]).hour]).max() < 0.5


def test_fit_says_when_features_ms_feeds_a_model_that_reads_only_the_target(capsys):
    Forecaster("dlinear", features="MS", seq_len=24, pred_len=6, epochs=1, progress=False).fit(_frame("h"))
    assert "the other column(s) ['x'] do not inform it" in capsys.readouterr().out
    Forecaster("dlinear", features="S", seq_len=24, pred_len=6, epochs=1, progress=False).fit(_frame("h"))
    assert "do not inform it" not in capsys.readouterr().out


def test_predict_puts_its_input_on_the_training_grid_or_refuses_gaps():
    df = _frame("h")
    gapped = df.drop(index=[290, 291]).reset_index(drop=True)  # two hours missing inside the last lookback
    fc = Forecaster("repeat_last", features="S", seq_len=24, label_len=12, pred_len=6).fit(df)
    with pytest.raises(DataError, match="2 missing timestamp.*fit without a fill"):  # a gap would shift the lookback
        fc.predict(gapped)
    with pytest.raises(DataError, match="fit without a fill"):
        fc.backtest(gapped, windows=2)
    filled = Forecaster("repeat_last", features="S", seq_len=24, label_len=12, pred_len=6, fill="ffill").fit(df)
    with pytest.warns(UserWarning, match="filled 2 missing timestamp"):
        future = filled.predict(gapped)
    assert list(future["date"]) == list(pd.date_range(df["date"].iloc[-1], periods=7, freq="h")[1:])
    np.testing.assert_allclose(future["OT"], df["OT"].iloc[-1])  # repeat-last: the last row, where it belongs
    holes = df.assign(OT=df["OT"].where(df.index != 295))  # a missing value, not a missing row
    with pytest.warns(UserWarning, match="filled 1 missing value"):
        filled.predict(holes)


def test_cli_predict_and_backtest_read_the_input_as_train_read_the_data(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=400)
    run = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--model", "repeat_last", "--seq-len", "24", "--pred-len", "6",
                 "--fill", "ffill", "--no-refit", "--no-progress", "--out", str(run)]) == 0
    df = pd.read_csv(csv)
    renamed = tmp_path / "when.csv"
    df.rename(columns={"date": "when"}).drop(index=[395]).to_csv(renamed, index=False)  # a gap, another name
    out = tmp_path / "f.csv"
    with pytest.warns(UserWarning, match="filled 1 missing timestamp"):  # main prints it as one line
        assert main(["predict", str(run), "--input", str(renamed), "--date-col", "when", "--out", str(out),
                     "--threads", "1"]) == 0
    forecast = pd.read_csv(out)
    assert list(forecast.columns)[:2] == ["when", "OT"]
    np.testing.assert_allclose(forecast["OT"], df["OT"].iloc[-1], rtol=1e-6)  # repeat-last: the last row, not lost
    assert main(["backtest", str(run), "--input", str(renamed), "--date-col", "when", "--windows", "2",
                 "--threads", "1", "--out", str(tmp_path / "b.csv")]) == 0
    for command in (["evaluate", str(run)], ["export", str(run), "--onnx", str(tmp_path / "m.onnx")]):
        args = build_parser().parse_args([*command, "--threads", "2"])
        assert args.threads == 2


@pytest.mark.parametrize("sep, decimal", [(";", ","), ("\t", ".")])
def test_cli_writes_forecasts_in_the_inputs_separators_and_decimal_mark(tmp_path, sep, decimal):
    df = pd.read_csv(write_csv(tmp_path / "s.csv", n=400)).rename(columns={"date": "Datum"})
    european = tmp_path / "eu.csv"
    df.to_csv(european, index=False, sep=sep, decimal=decimal)  # as a European spreadsheet exports it
    run, out = tmp_path / "run", tmp_path / "f.csv"
    assert main(["train", "--data", str(european), "--date-col", "Datum", "--model", "repeat_last", "--seq-len", "24",
                 "--pred-len", "6", "--no-refit", "--no-progress", "--out", str(run), "--threads", "1"]) == 0
    assert main(["predict", str(run), "--input", str(european), "--out", str(out), "--threads", "1"]) == 0
    forecast = pd.read_csv(out, sep=sep, decimal=decimal)  # the format its reader's spreadsheet reads back
    assert list(forecast.columns)[:2] == ["Datum", "OT"]
    np.testing.assert_allclose(forecast["OT"], df["OT"].iloc[-1], rtol=1e-6)
    assert main(["backtest", str(run), "--input", str(european), "--windows", "2", "--threads", "1",
                 "--out", str(tmp_path / "b.csv")]) == 0
    assert pd.read_csv(tmp_path / "b.csv", sep=sep, decimal=decimal)["mse"].dtype == float


def test_later_input_keeps_text_columns_drops_repeated_rows_and_names_the_right_remedy():
    df = _frame("h").assign(site="north")  # a text column beside the numbers
    fc = Forecaster("seasonal_naive", features="S", seq_len=24, label_len=12, pred_len=6, fill="interpolate").fit(df)
    with pytest.warns(UserWarning, match="filled 1 missing timestamp"):
        assert fc.predict(df.drop(index=[290])).notna().all().all()  # the text column is carried, not interpolated
    repeated = pd.concat([df, df.iloc[[295]]]).sort_values("date", kind="stable").reset_index(drop=True)
    with pytest.warns(UserWarning, match="repeat an earlier row exactly; one row per time is kept"):
        again = fc.predict(repeated)  # a repeat kept would shift the lookback by a step
    pd.testing.assert_frame_equal(again, fc.predict(df))
    with pytest.raises(DataError, match=r"fill them with --fill ffill or --fill interpolate \(Python: fill=\)"):
        Forecaster("seasonal_naive", features="S", pred_len=6, freq="h").fit(df.drop(index=[100]))  # fit's remedy
    with pytest.raises(DataError, match="not on the h grid.*the model was fit on h rows"):
        fc.predict(df.assign(date=df["date"] + pd.to_timedelta(np.r_[np.zeros(299), 30], unit="min")))


def test_a_built_in_runs_backtest_keeps_published_gaps_as_training_did(tmp_path, capsys):
    from sparsecast.data.datasets import DataConfig, resolve_path
    run = tmp_path / "run"
    assert main(["train", "--data", "ETTh1", "--model", "repeat_last", "--features", "S", "--seq-len", "24",
                 "--pred-len", "6", "--no-progress", "--out", str(run), "--threads", "1"]) == 0
    fc = Forecaster.load(run)
    assert fc.published  # the run's data is a built-in name
    path, _ = resolve_path(DataConfig(data="ETTh1"))
    frame = pd.read_csv(path).drop(index=[17000])
    with pytest.warns(UserWarning, match="kept as published"):
        table = fc.backtest(frame, windows=2, source=str(path))
    assert len(table) == 2
    rows = pd.read_csv(path)
    repeated = pd.concat([rows, rows.iloc[[-3]]]).sort_values("date", kind="stable").reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit = fc.fit(repeated)  # a frame given to fit is the user's: its repeat goes from the rows predict reads
        fresh = Forecaster.from_config(json.loads((run / "config.json").read_text())).fit(repeated)
    assert not refit.published
    pd.testing.assert_frame_equal(refit.predict(), fresh.predict())
    with pytest.raises(SystemExit):
        build_parser().parse_args(["backtest", str(run), "--threads", "-1"])
    assert "--threads takes a count of threads" in capsys.readouterr().err


def test_an_unsplit_european_csv_gets_one_line_naming_the_reader(tmp_path):
    from sparsecast import read_table
    path = tmp_path / "fx.csv"
    path.write_text("Date;OT\n" + "".join(f"2020-01-{d:02d};0,{600 + d}\n" for d in range(1, 29)))
    with pytest.raises(DataError, match=r"not split at ';'.*sparsecast.read_table\(path\).*sep=';', decimal=','"):
        Forecaster("repeat_last", pred_len=2, features="MS").fit(pd.read_csv(path))
    frame = read_table(path)  # what the command line reads
    assert list(frame.columns) == ["date", "OT"] and frame["OT"].iloc[0] == pytest.approx(0.601)
    assert len(Forecaster("repeat_last", pred_len=2, seq_len=4).fit(frame).predict()) == 2


def test_a_one_column_frame_is_refused_only_when_its_rows_hold_the_separator_too():
    from sparsecast.forecasting.frames import as_frame
    index = pd.date_range("2021-01-01", periods=30, freq="D")
    assert as_frame(pd.DataFrame({"sales|units": np.arange(30.0)}, index=index)).shape == (30, 1)
    with pytest.raises(DataError, match="not split at ';'"):
        as_frame(pd.DataFrame({"Date;OT": [f"2020-01-{d:02d};0,5" for d in range(1, 31)]}))


def test_repeated_rows_are_kept_where_training_counts_them_and_dropped_where_a_model_reads_them():
    from sparsecast.data.datasets import regular_frame
    df = _frame("h", n=50)
    repeated = pd.concat([df, df.iloc[[20]]]).sort_values("date", kind="stable").reset_index(drop=True)
    with pytest.warns(UserWarning, match="1 row.*exactly; kept$"):
        assert len(regular_frame(repeated, "h", None, "t")) == 51  # training windows cut as the rows are
    with pytest.warns(UserWarning, match="exactly; one row per time is kept"):
        assert len(regular_frame(repeated, "h", None, "t", drop_repeats=True)) == 50
    gapped = repeated.drop(index=[40])
    with pytest.warns(UserWarning, match="exactly; one row per time is kept"):  # filling drops the repeat too
        assert len(regular_frame(gapped, "h", "ffill", "t", published=True)) == 50

