"""Reading data, scaling fit on train only, features M/S/MS, every test window served."""

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import write_csv
from sparsecast.data import DataConfig, prepare_data


def test_bundled_etth1_follows_the_paper_protocol():
    p = prepare_data(DataConfig(data="ETTh1", features="M", seq_len=96, pred_len=24))
    assert p.borders == {"train": (0, 8640), "val": (8544, 11520), "test": (11424, 14400)}
    assert p.columns[-1] == "OT" and len(p.columns) == 7 and p.freq == "h"
    assert [len(p.splits[s]) for s in ("train", "val", "test")] == [8521, 2857, 2857]


def test_scaler_is_fit_on_train_rows_only(tmp_path):
    path = write_csv(tmp_path / "a.csv", n=500)
    df = pd.read_csv(path)
    before = prepare_data(DataConfig(data=str(path), features="M", seq_len=24, label_len=12, pred_len=6))
    df.loc[350:, "OT"] *= 100  # change only validation/test rows
    df.to_csv(path, index=False)
    after = prepare_data(DataConfig(data=str(path), features="M", seq_len=24, label_len=12, pred_len=6))
    np.testing.assert_array_equal(before.scaler.mean, after.scaler.mean)
    np.testing.assert_array_equal(before.scaler.std, after.scaler.std)
    train = pd.read_csv(path)[["a", "b", "OT"]].to_numpy()[:350]
    np.testing.assert_allclose(before.scaler.mean, train.mean(0))


@pytest.mark.parametrize("features,n_in,n_out", [("M", 3, 3), ("S", 1, 1), ("MS", 3, 1)])
def test_features(tmp_path, features, n_in, n_out):
    path = write_csv(tmp_path / "a.csv", columns=("OT", "x", "y"))  # target not last in the file
    p = prepare_data(DataConfig(data=str(path), features=features, seq_len=24, label_len=12, pred_len=6))
    b = next(iter(p.splits["train"].loader(5)))
    assert b.x.shape == (5, 24, n_in) and b.y.shape == (5, 6, n_out)
    assert p.columns[-1] == "OT" and p.target_columns[-1] == "OT"
    torch.testing.assert_close(b.x[:, :, -1], p.splits["train"].values[torch.arange(5)[:, None] + torch.arange(24), -1])


def test_every_test_window_is_scored_in_order(tmp_path):
    path = write_csv(tmp_path / "a.csv", n=300)
    p = prepare_data(DataConfig(data=str(path), features="S", seq_len=24, label_len=12, pred_len=6))
    test = p.splits["test"]
    batches = list(test.loader(7))
    assert sum(len(b) for b in batches) == len(test) == (300 - p.borders["test"][0]) - 24 - 6 + 1
    assert len(batches[-1]) == len(test) % 7 or len(batches[-1]) == 7
    last = batches[-1]
    # the last window's horizon ends on the last row of the file
    torch.testing.assert_close(last.y[-1, -1], test.targets[-1])
    # the horizon follows the history with no gap
    torch.testing.assert_close(batches[0].x[1, -1], test.values[24])


def test_shuffled_loader_is_repeatable_per_epoch(tmp_path):
    path = write_csv(tmp_path / "a.csv", n=300)
    windows = prepare_data(DataConfig(data=str(path), seq_len=24, label_len=12, pred_len=6)).splits["train"]
    a, b = windows.loader(8, shuffle=True, seed=1), windows.loader(8, shuffle=True, seed=1)
    first_a, first_b = next(iter(a)), next(iter(b))
    torch.testing.assert_close(first_a.x, first_b.x)
    assert not torch.equal(next(iter(a)).x, first_a.x)  # a new order each epoch


@pytest.mark.parametrize("fmt", ["%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M"])
def test_date_formats(tmp_path, fmt):
    path = write_csv(tmp_path / "a.csv", n=200)
    df = pd.read_csv(path, parse_dates=["date"])
    df["date"] = df["date"].dt.strftime(fmt)
    df.to_csv(path, index=False)
    p = prepare_data(DataConfig(data=str(path), seq_len=24, label_len=12, pred_len=6))
    assert p.freq == "h"


def test_crlf_and_bom_header(tmp_path):
    path = write_csv(tmp_path / "a.csv", n=200)
    raw = path.read_text().replace("\n", "\r\n")
    path.write_bytes("\ufeff".encode() + raw.encode())
    p = prepare_data(DataConfig(data=str(path), seq_len=24, label_len=12, pred_len=6))
    assert p.columns == ["OT"]


def test_shared_weather_with_crlf_and_odd_header_bytes(shared_data):
    p = prepare_data(DataConfig(data="weather", root_path=str(shared_data), features="M", seq_len=96, pred_len=24))
    assert len(p.columns) == 21 and p.columns[-1] == "OT" and p.freq == "10min"


@pytest.mark.parametrize("fill,expected", [("ffill", [0.0, 0.0, 0.0, 3.0]), ("interpolate", [0.0, 1.0, 2.0, 3.0])])
def test_fill_also_fills_missing_values_and_says_how_many(tmp_path, fill, expected):
    from sparsecast.errors import DataError
    n = 300
    ot = np.arange(n, dtype=float)
    ot[1:3] = np.nan  # rows 1-2 missing in the target
    a = np.ones(n)
    a[0] = np.nan  # a leading gap takes the first observation
    path = tmp_path / "nan.csv"
    pd.DataFrame({"date": pd.date_range("2021-01-01", periods=n, freq="h"), "a": a, "OT": ot}).to_csv(path, index=False)
    cfg = dict(data=str(path), features="M", seq_len=24, label_len=12, pred_len=6)
    with pytest.raises(DataError, match="missing or infinite value in column 'a'.*--fill ffill"):
        prepare_data(DataConfig(**cfg))
    with pytest.warns(UserWarning, match="filled 3 missing value"):
        p = prepare_data(DataConfig(**cfg, fill=fill))
    got = p.scaler.inverse(p.splits["train"].values[:4].numpy().astype(np.float64))  # (4, C) original units
    np.testing.assert_allclose(got[:, p.columns.index("OT")], expected, atol=1e-4)
    np.testing.assert_allclose(got[:, p.columns.index("a")], 1.0, atol=1e-4)
