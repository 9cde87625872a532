"""Each window's origin: its first forecast step's position on the time grid, the same in training windows, in
forecasts of the real future and in any frame of the same series, so a seasonal phase means one thing."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from sparsecast.data import DataConfig, StandardScaler
from sparsecast.data.datasets import prepare_frame
from sparsecast.forecasting.predict import ForecastSpec, forecast_at, forecast_future
from sparsecast.timefeatures import grid_index, season_length


@pytest.mark.parametrize("freq,phase_of", [
    ("h", lambda d: d.hour), ("15min", lambda d: d.hour * 4 + d.minute // 15), ("D", None),
    ("MS", lambda d: d.month - 1), ("QS", None), ("W-SUN", None), ("B", lambda d: d.day_of_week)])
def test_grid_index_counts_steps_and_gives_calendar_phases(freq, phase_of):
    dates = pd.date_range("2019-12-30 00:00", periods=400, freq=freq)
    index = grid_index(dates, freq)
    assert index.dtype == np.int64 and (np.diff(index) == 1).all()
    later = grid_index(dates[150:], freq)  # another frame of the same series: the same positions
    np.testing.assert_array_equal(later, index[150:])
    if phase_of is not None:
        np.testing.assert_array_equal(index % season_length(freq), np.asarray(phase_of(dates)))


class Recorder(nn.Module):
    """Forecasts zeros and keeps the origins it was given."""

    def __init__(self, pred_len):
        super().__init__()
        self.pred_len, self.origins = pred_len, []
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, x_mark, future_mark, origin=None):
        self.origins.append(origin)
        return x.new_zeros(len(x), self.pred_len, 1)


def test_training_windows_and_forecasts_give_the_same_origin_for_the_same_date():
    dates = pd.date_range("2021-01-01", periods=300, freq="h")
    df = pd.DataFrame({"date": dates, "y": np.sin(np.arange(300) / 5)})
    cfg = DataConfig(data="custom.csv", features="S", target="y", freq="h", seq_len=48, label_len=0, pred_len=12)
    prepared = prepare_frame(df, cfg)
    start = prepared.borders["test"][0]
    batch = prepared.splits["test"].batch(torch.tensor([0, 5]))
    first_steps = dates[[start + 48, start + 53]]  # the first horizon step of windows 0 and 5
    np.testing.assert_array_equal(batch.origin.numpy(), grid_index(first_steps, "h"))

    spec = ForecastSpec(cfg, ["y"], ["y"], StandardScaler.fit(df[["y"]].to_numpy()))
    model = Recorder(12)
    forecast_at(model, spec, df, [start + 48, start + 53])  # the same windows, from the raw frame
    np.testing.assert_array_equal(model.origins[-1].numpy(), batch.origin.numpy())
    forecast_future(model, spec, df)  # the real future: the step after the last row
    assert int(model.origins[-1][0]) == grid_index(dates[-1:], "h")[0] + 1
