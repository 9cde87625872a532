"""The test-window plot: time on the x axis when the split's dates are given, each panel its own window's dates."""

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
import matplotlib.axes  # noqa: E402

from sparsecast.forecasting import plots  # noqa: E402


def test_forecast_panels_read_each_windows_dates(tmp_path, monkeypatch):
    dates = pd.date_range("2024-01-01", periods=40, freq="h").to_numpy()
    history, truth, pred = np.zeros((3, 8)), np.ones((3, 4)), np.ones((3, 4))
    titles, xs = [], []
    real_plot = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "set_title", lambda ax, text, **kw: titles.append(text))
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda ax, x, *a, **kw: (xs.append(np.asarray(x)), real_plot(ax, x, *a, **kw))[1])
    plots.plot_forecasts(tmp_path / "f.png", history, truth, pred, "OT", n_windows=3, dates=dates,
                         starts=np.array([0, 10, 20]))
    assert titles == ["test window 0, forecast from 2024-01-01 08:00", "test window 1, forecast from 2024-01-01 18:00",
                      "test window 2, forecast from 2024-01-02 04:00"]
    assert xs[0][0] == dates[0] and xs[3][0] == dates[10]  # history of panels 1 and 2 (three lines per panel)
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plots.plot_forecasts(tmp_path / "steps.png", history, truth, pred, "OT", n_windows=1)  # no dates: steps
    assert titles[-1] == "test window 0" and xs[-3][0] == 0


def test_titles_show_the_date_for_daily_data_and_minutes_for_sub_daily_data():
    from sparsecast.forecasting.plots import has_time_of_day, moment
    daily = np.arange("2018-02-18", "2018-02-21", dtype="datetime64[D]").astype("datetime64[ns]")
    hourly = np.arange("2018-02-20T00", "2018-02-20T03", dtype="datetime64[h]")
    assert not has_time_of_day(daily) and has_time_of_day(hourly)
    assert moment(daily[2], with_time=False) == "2018-02-20"
    assert moment(hourly[0], with_time=True) == "2018-02-20 00:00"  # midnight of hourly data keeps its time
    assert moment(np.datetime64("2018-02-20T13:15:00.000000000"), with_time=True) == "2018-02-20 13:15"
