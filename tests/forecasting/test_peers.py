"""The peer adapter hands a peer library exactly our windows and reads its forecasts back in our order: checked
with a stand-in for neuralforecast (repeat-last computed from the long frame the adapter builds), so no peer
library is needed."""

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import write_csv
from sparsecast.data import DataConfig, prepare_data
from sparsecast.forecasting.peers import long_frame, test_layout, validation_rows, windows_from_cv


@pytest.fixture
def prepared(tmp_path):
    csv = write_csv(tmp_path / "s.csv", n=300, columns=("a", "b", "OT"))
    return prepare_data(DataConfig(data=str(csv), features="M", seq_len=24, label_len=12, pred_len=6))


def _stand_in_cross_validation(df: pd.DataFrame, n_windows: int, h: int) -> pd.DataFrame:
    """What neuralforecast's cross_validation returns for a repeat-last model: the last n_windows cutoffs."""
    rows = []
    for uid, g in df.groupby("unique_id", sort=False):
        y, ds = g["y"].to_numpy(), g["ds"].to_numpy()
        for k in range(n_windows):
            cut = len(y) - h - (n_windows - 1 - k) - 1  # the last row before the window's origin
            rows.append(pd.DataFrame({"unique_id": uid, "ds": ds[cut + 1:cut + 1 + h], "cutoff": ds[cut],
                                      "y": y[cut + 1:cut + 1 + h], "Peer": y[cut]}))
    return pd.concat(rows, ignore_index=True).sample(frac=1, random_state=0)  # any row order


def test_the_peer_sees_exactly_our_test_windows(prepared):
    first, n, seq_len, pred_len = test_layout(prepared)
    df = long_frame(prepared)
    assert set(df["unique_id"]) == {"a", "b", "OT"}
    assert df["ds"].max() == prepared.dates[prepared.borders["test"][1] - 1]
    cv = _stand_in_cross_validation(df, n, pred_len)
    pred, truth = windows_from_cv(cv, prepared, "Peer")
    ours = prepared.splits["test"].batch(torch.arange(n))
    np.testing.assert_allclose(truth, ours.y.numpy(), atol=1e-6)  # the same truth, window by window
    np.testing.assert_allclose(pred, np.repeat(ours.x[:, -1:, :].numpy(), pred_len, axis=1), atol=1e-6)
    assert first == prepared.borders["test"][0] + seq_len


def test_the_peer_validates_on_our_validation_rows(prepared):
    train_end = prepared.borders["train"][1]
    first, *_ = test_layout(prepared)
    assert validation_rows(prepared) == first - train_end  # the rows our validation windows forecast


def test_other_origins_are_refused(prepared):
    _, n, _, pred_len = test_layout(prepared)
    cv = _stand_in_cross_validation(long_frame(prepared), n - 1, pred_len)
    with pytest.raises(ValueError, match="not our"):
        windows_from_cv(cv, prepared, "Peer")


def test_a_multivariate_peer_is_told_the_number_of_series(prepared):
    from sparsecast.forecasting.peers import series_setting

    class Joint:  # as neuralforecast marks TSMixer and iTransformer
        MULTIVARIATE = True

    class PerSeries:
        MULTIVARIATE = False

    n_series = long_frame(prepared)["unique_id"].nunique()
    assert series_setting(Joint, prepared) == {"n_series": 3} == {"n_series": n_series}
    assert series_setting(PerSeries, prepared) == {} == series_setting(object, prepared)
