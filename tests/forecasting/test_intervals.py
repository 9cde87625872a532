"""Prediction intervals: quantile offsets that minimize the pinball loss, ordered quantiles, the coverage they
promise on a series with known noise, and the columns, files and flags that carry them."""

import json

import numpy as np
import pandas as pd
import pytest

from helpers import write_csv
from sparsecast import Forecaster
from sparsecast.cli import main
from sparsecast.forecasting.intervals import Intervals, column_name, interval_scores
from sparsecast.training import TrainConfig
from sparsecast.training.metrics import pinball_loss


def _errors(n=400, p=5, c=2, seed=0):
    rng = np.random.default_rng(seed)
    pred = rng.standard_normal((n, p, c))
    scale = rng.uniform(0.5, 2.0, (n, c))
    truth = pred + scale[:, None, :] * rng.standard_t(4, (n, p, c))
    return pred, truth, scale


def test_offsets_are_the_empirical_quantiles_of_the_scaled_errors_and_minimize_the_pinball_loss():
    pred, truth, scale = _errors()
    levels = (0.1, 0.5, 0.9)
    iv = Intervals.fit(pred, truth, scale, levels)
    assert iv.offsets.shape == (5, 2, 3) and iv.windows == 400
    errors = (truth - pred) / np.sqrt(scale)[:, None, :]  # the square root of the std; none below the floor here
    corrected = 0.5 - 0.4 * 401 / 400  # split conformal's finite-sample correction for 400 windows
    np.testing.assert_allclose(iv.offsets[..., 0], np.quantile(errors, corrected, axis=0))
    # 400 overlapping windows spanning 5 horizons hold about 5 independent errors per step: the 0.1 level moves to
    # 0.5 - 0.4 * 6 / 5 = 0.02
    five = Intervals.fit(pred, truth, scale, levels, horizons=5.5)
    np.testing.assert_allclose(five.offsets[..., 0], np.quantile(errors, 0.02, axis=0))
    # each offset is a minimizer of its level's pinball loss on the scaled errors: moving it either way costs
    for k, level in enumerate(levels):
        best = pinball_loss(iv.offsets[None, ..., k:k + 1], errors, (level,))
        for delta in (-0.05, 0.05):
            assert pinball_loss(iv.offsets[None, ..., k:k + 1] + delta, errors, (level,)) > best


def test_quantiles_are_ordered_scaled_per_window_and_round_trip():
    pred, truth, scale = _errors()
    iv = Intervals.fit(pred, truth, scale, (0.05, 0.25, 0.5, 0.75, 0.95))
    q = iv.quantiles(pred, scale)  # (N, P, C, Q)
    assert q.shape == (400, 5, 2, 5) and (np.diff(q, axis=-1) >= 0).all()
    wide = iv.quantiles(pred, 4 * scale)  # four times the recent volatility: twice the distance from the forecast
    np.testing.assert_allclose(wide - pred[..., None], 2 * (q - pred[..., None]))
    again = Intervals.from_dict(json.loads(json.dumps(iv.to_dict())))
    np.testing.assert_allclose(again.quantiles(pred, scale), q)
    flat = iv.quantiles(pred, np.zeros_like(scale))  # a flat window still gets a band (the floor)
    assert (flat[..., -1] > flat[..., 0]).all()
    saved = {k: v for k, v in iv.to_dict().items() if k != "power"}  # a run saved when the band followed the std
    older = Intervals.from_dict({**saved, "floor": [1e-6, 1e-6]})
    assert older.power == 1.0
    np.testing.assert_allclose(older.quantiles(pred, scale) - pred[..., None],
                               (iv.offsets[None] * scale[:, None, :, None]))  # read as it was fit
    floored = Intervals.from_dict({**saved, "floor": [0.3, 0.3]}).quantiles(pred, np.zeros_like(scale))
    np.testing.assert_allclose(floored - pred[..., None], np.broadcast_to(iv.offsets * 0.3, floored.shape))


def test_a_mostly_flat_channel_gets_a_band_as_wide_as_its_errors():
    """Rain, sparse demand: most lookbacks are all zeros (std 0). The floor is a share of the mean scale, not of the
    median (zero there), so the errors of the flat windows do not blow up the band of the others (weather's rain
    channel had a band 166 normalized units wide)."""
    rng = np.random.default_rng(0)
    n = 600
    pred = np.zeros((n, 4, 1))
    scale = np.where(rng.uniform(size=(n, 1)) < 0.75, 0.0, rng.uniform(0.5, 1.5, (n, 1)))  # 75% flat lookbacks
    truth = pred + 0.3 * rng.standard_normal((n, 4, 1))  # errors of the same size on every window
    iv = Intervals.fit(pred, truth, scale)
    width = iv.quantiles(pred, scale)[..., -1] - iv.quantiles(pred, scale)[..., 0]  # (N, P, 1)
    spread = np.quantile(truth, 0.9) - np.quantile(truth, 0.1)  # about 0.77
    assert width.max() < 10 * spread  # 8.8x; the old rule (std, a tenth of the median: 1e-6) 1.4e6x
    assert 0.6 < iv.scores(pred, scale, truth)["coverage"]["0.1-0.9"]["coverage"] <= 1


def test_scores_count_coverage_and_levels():
    truth = np.arange(10.0).reshape(10, 1, 1)
    q = np.broadcast_to(np.array([2.0, 5.0, 7.0]), (10, 1, 1, 3))  # truth 0..9 against quantiles 2, 5, 7
    s = interval_scores(q, truth, (0.1, 0.5, 0.9))
    assert s["coverage"] == {"0.1-0.9": {"nominal": 0.8, "coverage": 0.6}}  # 2..7 inclusive
    assert s["below"] == {"0.1": 0.3, "0.5": 0.6, "0.9": 0.8}
    assert column_name("OT", 0.1) == "OT_q10" and column_name("OT", 0.025) == "OT_q2.5"


@pytest.mark.parametrize("levels", [(0.5, 0.1), (0.0, 0.5), (0.2, 0.2), (0.5, 1.0)])
def test_bad_levels_stop_with_one_clear_line(levels):
    with pytest.raises(ValueError, match="increasing and strictly between 0 and 1"):
        TrainConfig(quantiles=levels)


def test_saved_train_configs_without_levels_and_json_lists_load():
    assert TrainConfig().quantiles == (0.1, 0.5, 0.9)
    assert TrainConfig(quantiles=[0.2, 0.8]).quantiles == (0.2, 0.8)


def _noisy_season(n=3000, sigma=0.5, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="h"),
                         "y": 10 + 3 * np.sin(2 * np.pi * t / 24) + sigma * rng.standard_normal(n)})


def test_band_covers_what_it_promises_on_a_series_with_known_noise():
    sigma = 0.5
    df = _noisy_season(sigma=sigma)
    fc = Forecaster("dlinear", seq_len=48, pred_len=12, features="S", target="y", epochs=4, lr=0.01,
                    progress=False).fit(df.iloc[:1500])
    result = fc.backtest(df, windows=100, stride=12)  # 1,200 future values, none seen in fit
    coverage = result["coverage_0.1-0.9"].mean()
    assert 0.72 <= coverage <= 0.88, coverage
    future = fc.predict()
    assert (future["y_q10"] <= future["y_q50"]).all() and (future["y_q50"] <= future["y_q90"]).all()
    # the model learns the season, so what is left is the noise: the band is about 2 * 1.2816 sigma wide
    width = (future["y_q90"] - future["y_q10"]).mean()
    assert width == pytest.approx(2 * 1.2816 * sigma, rel=0.25)


def test_chosen_levels_name_the_columns_and_survive_save_and_load(tmp_path):
    df = _noisy_season(n=600)
    fc = Forecaster("dlinear", seq_len=48, pred_len=6, features="S", target="y", epochs=1, progress=False,
                    quantiles=(0.05, 0.5, 0.95)).fit(df)
    future = fc.predict()
    assert list(future.columns) == ["date", "y", "y_q05", "y_q50", "y_q95"]
    fc.save(tmp_path / "fc")
    pd.testing.assert_frame_equal(Forecaster.load(tmp_path / "fc").predict(), future)
    assert "coverage_0.05-0.95" in fc.backtest(df, windows=3).columns


def test_cli_train_reports_coverage_and_predict_writes_the_band(tmp_path, capsys):
    csv = write_csv(tmp_path / "s.csv", n=500)
    run = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--model", "dlinear", "--features", "S", "--seq-len", "24",
                 "--pred-len", "6", "--epochs", "1", "--no-progress", "--quantiles", "0.2,0.5,0.8",
                 "--out", str(run)]) == 0
    assert "interval 0.2-0.8 (fit on validation) covers" in capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["intervals"]["coverage"]) == {"0.2-0.8"}
    assert json.loads((run / "intervals.json").read_text())["levels"] == [0.2, 0.5, 0.8]
    out = tmp_path / "f.csv"
    assert main(["predict", str(run), "--input", str(csv), "--out", str(out), "--plot", str(tmp_path / "f.png")]) == 0
    forecast = pd.read_csv(out)
    assert list(forecast.columns) == ["date", "OT", "OT_q20", "OT_q50", "OT_q80"]
    assert (forecast["OT_q20"] <= forecast["OT_q80"]).all()
    with pytest.raises(SystemExit):
        main(["train", "--data", str(csv), "--quantiles", "0.9,0.1", "--out", str(run)])


def test_no_levels_no_intervals(tmp_path, capsys):
    """--quantiles none: point forecasts only, no calibration pass (the LTSF table's statistical columns)."""
    csv = write_csv(tmp_path / "s.csv", n=500)
    run = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--model", "seasonal_naive", "--features", "S", "--seq-len", "24",
                 "--pred-len", "6", "--no-progress", "--quantiles", "none", "--test-windows", "10",
                 "--out", str(run)]) == 0
    assert "no prediction intervals: no quantile levels asked for" in capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["intervals"] is None and metrics["test_windows"] == 10
    assert main(["evaluate", str(run)]) == 0  # re-scored on the same 10 windows
    assert json.loads((run / "config.json").read_text())["train"]["quantiles"] == []
    out = tmp_path / "f.csv"
    assert main(["predict", str(run), "--input", str(csv), "--out", str(out)]) == 0
    assert list(pd.read_csv(out).columns) == ["date", "OT"]


def test_too_few_held_out_horizons_give_point_forecasts_and_say_why():
    df = _noisy_season(n=200)  # 20 validation rows: 15 windows of 6 steps span 3.3 horizons, fewer than 5
    with pytest.warns(UserWarning, match=r"no prediction intervals: the validation windows span 3.3 horizon\(s\)"):
        fc = Forecaster("dlinear", seq_len=24, pred_len=6, features="S", target="y", epochs=1,
                        progress=False).fit(df)
    assert fc.intervals is None and list(fc.predict().columns) == ["date", "y"]
    assert "coverage_0.1-0.9" not in fc.backtest(df, windows=2).columns


def test_statistical_models_calibrate_on_training_windows_too():
    df = _noisy_season(n=200)  # the same short series: seasonal naive's forecasts are all out of sample
    fc = Forecaster("seasonal_naive", seq_len=48, pred_len=6, features="S", target="y").fit(df)
    assert fc.intervals is not None and fc.intervals.windows > 20
    future = fc.predict()
    assert (future["y_q10"] < future["y"]).all() and (future["y"] < future["y_q90"]).all()


def test_scores_a_chunk_of_windows_at_a_time_equal_the_whole_and_one_channels_quantiles_are_its_slice():
    """Test splits with long horizons and many channels score their intervals in chunks (every window's quantiles
    at once can be gigabytes): the same figures as scoring all at once."""
    rng = np.random.default_rng(0)
    pred, truth = rng.normal(size=(37, 6, 3)), rng.normal(size=(37, 6, 3))
    scale = rng.uniform(0.5, 2, size=(37, 3))
    iv = Intervals.fit(pred, truth, scale)
    whole = interval_scores(iv.quantiles(pred, scale), truth, iv.levels)
    chunked = iv.scores(pred, scale, truth, chunk_elements=5 * 6 * 3 * len(iv.levels))  # 5 windows a chunk
    assert chunked["coverage"].keys() == whole["coverage"].keys()
    for band in whole["coverage"]:
        assert chunked["coverage"][band]["nominal"] == whole["coverage"][band]["nominal"]
        assert chunked["coverage"][band]["coverage"] == pytest.approx(whole["coverage"][band]["coverage"], abs=1e-12)
    assert chunked["below"] == pytest.approx(whole["below"], abs=1e-12)
    assert chunked["pinball"] == pytest.approx(whole["pinball"], rel=1e-12)
    np.testing.assert_array_equal(iv.quantiles(pred, scale, slice(-1, None)), iv.quantiles(pred, scale)[..., -1:, :])


def test_train_notes_a_band_far_narrower_on_test_than_its_nominal_coverage(capsys):
    from sparsecast.cli.scores import print_intervals
    bands = {"0.1-0.9": {"coverage": 0.372, "nominal": 0.8}, "0.25-0.75": {"coverage": 0.45, "nominal": 0.5}}
    print_intervals({"intervals": {"coverage": bands}})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("interval 0.1-0.9 (fit on validation) covers 37.2%")
    assert lines[1].startswith("note: the 0.1-0.9 band is too narrow on these test windows")
    assert lines[2].startswith("interval 0.25-0.75") and len(lines) == 3  # 90% of its nominal share: no note
