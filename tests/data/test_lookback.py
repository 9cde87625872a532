"""The lookback chosen for a user's series from its frequency and length."""

import numpy as np
import pandas as pd
import pytest

from sparsecast import Forecaster
from sparsecast.cli import main
from sparsecast.data.lookback import MIN_TRAIN_WINDOWS, fit_lookback, preferred_lookback
from sparsecast.data.splits import custom_ends, split_borders
from sparsecast.forecasting.run_dir import read_json
from sparsecast.errors import DataError


@pytest.mark.parametrize("freq,pred_len,expected", [("h", 24, 336), ("15min", 96, 336), ("D", 7, 28), ("D", 30, 60),
                                                   ("W-SUN", 8, 104), ("ME", 12, 24), ("QE", 4, 16), ("YE", 3, 8)])
def test_preferred_lookback_by_frequency(freq, pred_len, expected):
    assert preferred_lookback(freq, pred_len) == expected


def test_lookback_shrinks_to_fit_a_short_series_and_says_when_it_cannot():
    assert fit_lookback("h", 100_000, 24) == 336
    seq = fit_lookback("ME", 60, 6)  # 54 training rows: 54 - 6 + 1 - 16 = 33 > 24 wanted
    assert seq == 24
    seq = fit_lookback("h", 400, 24)  # 360 training rows leave room for 321 of the 336 wanted
    assert seq == 360 - 24 + 1 - MIN_TRAIN_WINDOWS
    with pytest.raises(DataError, match=r"has 30 rows: forecasting 6 steps needs at least \d+"):
        fit_lookback("ME", 30, 6, min_lookback=16)


def test_forecaster_with_target_and_horizon_alone(tmp_path):
    n = 80  # 80 months
    t = np.arange(n)
    df = pd.DataFrame({"date": pd.date_range("2015-01-31", periods=n, freq="ME"),
                       "sales": 100 + 2 * t + 10 * np.sin(2 * np.pi * t / 12)})
    fc = Forecaster("longpatch", target="sales", pred_len=6, features="S", epochs=1).fit(df)
    assert fc.data_cfg.seq_len == 24 and "seq_len=24" in repr(fc)
    future = fc.predict()
    assert len(future) == 6 and future["date"].iloc[0] == pd.Timestamp("2021-09-30")
    assert Forecaster(target="sales", pred_len=6).__repr__().startswith("Forecaster('auto', seq_len=auto")
    with pytest.raises(DataError, match="has 20 rows"):
        Forecaster("longpatch", target="sales", pred_len=6, features="S").fit(df.head(20))


def test_six_hourly_data_counts_as_sub_daily():
    assert preferred_lookback("6h", 24) == 336 and preferred_lookback("12h", 24) == 336


def test_informer_keeps_its_label_len_under_the_automatic_lookback():
    df = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=2000, freq="h"),
                       "OT": np.sin(np.arange(2000) / 5.0)})
    fc = Forecaster("informer", pred_len=24, features="S", epochs=1, d_model=16, n_heads=2, d_ff=16, e_layers=1)
    fc._choose_lookback(fc._frames(df, long=False))
    assert (fc.data_cfg.seq_len, fc.data_cfg.label_len) == (336, 48)


def test_a_model_with_nothing_to_train_needs_one_lookback_in_the_training_rows_only():
    # 65 weekly rows, horizon 10: 55 training rows (the last 10 validate). A trained model needs its windows there;
    # a statistical one only a lookback of one season (52) before the validation rows.
    with pytest.raises(DataError, match=r"needs at least 72 \(a lookback of 52, 1 training window\(s\), and"):
        fit_lookback("W-SUN", 65, 10, min_lookback=52, min_train_windows=1)
    assert fit_lookback("W-SUN", 65, 10, min_lookback=52, preferred=520, min_train_windows=0) == 55
    with pytest.raises(DataError, match=r"needs at least 62 \(a lookback of 52 and the last 10 rows"):
        fit_lookback("W-SUN", 61, 10, min_lookback=52, min_train_windows=0)
    t = np.arange(65)
    df = pd.DataFrame({"date": pd.date_range("2020-01-05", periods=65, freq="W-SUN"),
                       "y": 10 + np.sin(2 * np.pi * t / 52)})
    fc = Forecaster("seasonal_naive", target="y", features="S", pred_len=10).fit(df)
    assert fc.data_cfg.seq_len == 52  # seasonal naive reads one season (the others prefer ten: 55 rows here)
    np.testing.assert_allclose(fc.predict()["y"], df["y"].iloc[13:23], rtol=1e-5)  # one season back


def test_the_scoring_split_holds_a_horizon_in_validation_and_test_on_a_short_series():
    assert custom_ends(966, 60) == (676, 773)  # long enough: 70 / 10 / 20% exactly (the national_illness table)
    assert custom_ends(72, 12) == (46, 58)  # 72 months, a year ahead: 7 validation rows would not hold a horizon
    borders = split_borders("custom", 72, seq_len=19, pred_len=12)
    assert borders == {"train": (0, 46), "val": (27, 58), "test": (39, 72)}
    assert fit_lookback("ME", 72, 12, min_lookback=16, split="custom") == 46 - 12 + 1 - MIN_TRAIN_WINDOWS


def test_cli_train_on_a_short_csv_chooses_the_lookback(tmp_path, capsys, monkeypatch):
    import sparsecast.data.frame as frame
    reads = []
    normalize = frame.normalize_frame
    monkeypatch.setattr(frame, "normalize_frame", lambda df, *a, **k: reads.append(1) or normalize(df, *a, **k))
    t = np.arange(72)
    csv = tmp_path / "sales.csv"
    pd.DataFrame({"month": pd.date_range("2015-01-01", periods=72, freq="MS").strftime("%Y-%m"),
                  "sales": 100 + t + 10 * np.sin(2 * np.pi * t / 12)}).to_csv(csv, index=False)
    run = tmp_path / "run"
    assert main(["train", "--data", str(csv), "--model", "longpatch", "--date-col", "month", "--pred-len", "12",
                 "--epochs", "1", "--no-refit", "--no-progress", "--out", str(run)]) == 0
    assert "lookback 19 steps, chosen from the frequency (MS) and the 72 rows" in capsys.readouterr().out
    assert read_json(run / "config.json")["data"]["seq_len"] == 19
    assert len(reads) == 1  # the file read to choose the lookback is the one training prepares


def test_the_lookback_counts_the_rows_fill_will_add(tmp_path, capsys):
    """60 days of which 10 are missing: filled, the run has 60 rows (lookback 28); the 50 given would choose 21 (and
    pandas reads the days with gaps as 24-hour steps, whose lookback is 14)."""
    t = np.arange(60)
    df = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=60, freq="D"),
                       "load": 10 + np.sin(2 * np.pi * t / 7) + t / 30}).drop(index=range(20, 30))
    fc = Forecaster("dlinear", target="load", pred_len=7, features="S", fill="interpolate", epochs=1)
    with pytest.warns(UserWarning, match="filled 10 missing timestamp"):
        fc.fit(df)
    assert fc.data_cfg.seq_len == 28
    csv = tmp_path / "gaps.csv"
    df.to_csv(csv, index=False)
    assert main(["train", "--data", str(csv), "--model", "dlinear", "--pred-len", "7", "--fill", "interpolate",
                 "--epochs", "1", "--no-refit", "--no-progress", "--out", str(tmp_path / "run")]) == 0
    from sparsecast.forecasting.lookback import choose_lookback
    scoring = choose_lookback("dlinear", {}, "D", 60, 7, split="custom")  # the CLI's 70 / 10 / 20 split
    assert scoring != choose_lookback("dlinear", {}, "D", 50, 7, split="custom")
    assert f"lookback {scoring} steps, chosen from the frequency (D) and the 60 rows" in capsys.readouterr().out
