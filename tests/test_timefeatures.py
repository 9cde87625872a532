"""Time features for every frequency family."""

import numpy as np
import pandas as pd
import pytest

from sparsecast.timefeatures import freq_family, grid_index, n_time_features, normalize_freq, time_features


@pytest.mark.parametrize("freq,family,n", [("h", "h", 4), ("H", "h", 4), ("t", "t", 5), ("15min", "t", 5),
                                           ("d", "d", 3), ("D", "d", 3), ("b", "b", 3), ("w", "w", 2),
                                           ("W", "w", 2), ("M", "m", 1), ("s", "s", 6), ("10min", "t", 5)])
def test_families(freq, family, n):
    assert freq_family(freq) == family
    dates = pd.date_range("2021-03-01", periods=50, freq=normalize_freq(freq))
    feats = time_features(dates, freq, "timeF")
    assert feats.shape == (50, n) == (50, n_time_features(freq, "timeF"))
    assert feats.min() >= -0.5 and feats.max() <= 0.5


def test_hourly_values():
    feats = time_features(pd.DatetimeIndex(["2016-07-01 00:00", "2016-07-01 23:00"]), "h", "timeF")
    # hour of day, day of week (Fri = 4), day of month, day of year
    np.testing.assert_allclose(feats[:, 0], [-0.5, 0.5])
    np.testing.assert_allclose(feats[0, 1], 4 / 6 - 0.5, rtol=1e-6)
    np.testing.assert_allclose(feats[0, 2], -0.5)
    np.testing.assert_allclose(feats[0, 3], 182 / 365 - 0.5, rtol=1e-6)


def test_calendar_indices_for_fixed_and_learned():
    feats = time_features(pd.DatetimeIndex(["2016-07-01 13:45"]), "15min", "fixed")
    assert feats.tolist() == [[7, 1, 4, 13, 3]]


def test_unknown_frequency():
    with pytest.raises(ValueError, match="unknown frequency"):
        freq_family("fortnightly")


@pytest.mark.parametrize("freq", ["h", "15min", "D", "W-MON", "MS"])
def test_grid_index_counts_steps_across_a_daylight_saving_change(freq):
    # Europe/Berlin moves its clocks on 2021-03-28 and 2021-10-31: every step still counts one.
    dates = pd.date_range("2021-03-20", periods=400, freq=freq, tz="Europe/Berlin")
    np.testing.assert_array_equal(np.diff(grid_index(dates, freq)), 1)
    naive = pd.date_range("2021-03-20", periods=400, freq=freq)
    if freq in ("D", "W-MON", "MS"):  # calendar steps: the local calendar, as without a zone
        np.testing.assert_array_equal(grid_index(dates, freq), grid_index(naive, freq))
