"""The commands on a saved run: ``evaluate``, ``predict``, ``backtest``, ``export``."""

import json
from pathlib import Path

from .flags import set_threads
from .scores import print_test_scores


def cmd_evaluate(a) -> None:
    from ..forecasting import evaluate_run
    from ..forecasting.run_dir import CONFIG, read_json
    set_threads(a)
    metrics = evaluate_run(a.run_dir, precision=a.precision)
    if a.json:
        print(json.dumps(metrics, indent=2))
        return
    config = read_json(Path(a.run_dir) / CONFIG)
    print_test_scores(metrics, auto=config.get("auto") is not None, model_name=config["model_name"])
    print(f"re-scored {a.run_dir} on its test split (--json prints every figure as JSON)")


def cmd_predict(a) -> None:
    from ..data import read_table
    from ..data.datasets import input_on_grid
    from ..forecasting.final import forecast_dir
    from ..forecasting.intervals import column_name
    from ..forecasting.plots import plot_history_forecast
    from ..forecasting.predict import ForecastSpec, check_columns, forecast_future
    from ..forecasting.run_dir import load_intervals, load_run
    set_threads(a)
    folder = forecast_dir(a.run_dir)
    model, config, scaler = load_run(folder)
    spec = ForecastSpec.from_run(config, scaler, load_intervals(folder))
    frame = read_table(a.input, a.date_col or spec.data.date_col)
    time_column = frame.attrs.get("time_column", spec.data.date_col)  # the input's own name for it
    csv_format = frame.attrs.get("csv_format", {})
    check_columns(frame, spec, str(a.input))  # before the time grid: a wrong file says so first
    frame = input_on_grid(frame, spec.data, str(a.input))  # the rows on the training rows' time grid
    forecast = forecast_future(model, spec, frame)
    forecast.rename(columns={"date": time_column}).to_csv(a.out, index=False, **csv_format)  # as the input is written
    if a.plot:
        target, band = spec.target_columns[-1], None
        if spec.intervals is not None:
            band = tuple(column_name(target, spec.intervals.levels[k]) for k in (0, -1))
        plot_history_forecast(a.plot, frame, forecast, target, spec.data.seq_len, band)
    which = "the model refit on every row" if folder != Path(a.run_dir) else "the run's model"
    first, last = (_when(forecast["date"].iloc[i], forecast["date"]) for i in (0, -1))
    print(f"wrote {len(forecast)} steps from {first} to {last} to {a.out} ({which}, {folder})")


def _when(t, among=None) -> str:
    """A timestamp as messages show it: the date alone where it and every timestamp of ``among`` (the others it is
    shown with) fall at midnight (daily and coarser data), else date and time."""
    import pandas as pd
    times = pd.DatetimeIndex([t] if among is None else among)
    return str(t.date()) if (times == times.normalize()).all() else str(t)


def cmd_backtest(a) -> None:
    import pandas as pd

    from ..forecaster import Forecaster
    from ..forecasting.final import data_path, read_user_frame
    from ..forecasting.run_dir import CONFIG, METRICS, read_json
    set_threads(a)
    fc = Forecaster.load(a.run_dir)
    source = a.input or data_path(read_json(Path(a.run_dir) / CONFIG))
    frame = read_user_frame(source, fc.data_cfg.date_col, a.date_col)
    table = fc.backtest(frame, windows=a.windows, stride=a.stride, source=str(source))
    table.to_csv(a.out, index=False, **frame.attrs.get("csv_format", {}))  # separators as the input's
    test_start = read_json(Path(a.run_dir) / METRICS).get("test_start")
    seen = int((table["origin"] < pd.Timestamp(test_start)).sum()) if test_start else 0
    cols = [c for c in ("mse", "mae", "seasonal_naive_mse") if c in table.columns]
    means = ", ".join(f"{c} {table[c].mean():.4g}" for c in cols)
    naive = table.dropna(subset=["seasonal_naive_mse"]) if "seasonal_naive_mse" in table.columns else table[:0]
    if len(naive) and naive["seasonal_naive_mse"].mean() > 0:  # over the origins with a season of history
        over = "" if len(naive) == len(table) else f" over the {len(naive)} origins with a season before them"
        ratio = naive["mse"].mean() / naive["seasonal_naive_mse"].mean()
        means += f"; skill (mean MSE / seasonal naive's{over}) {ratio:.3f}"
    cover = [c for c in table.columns if c.startswith("coverage_")]
    means += "".join(f"; {c} {table[c].mean():.3f}" for c in cover)
    origins = pd.DatetimeIndex(table["origin"])
    print(f"backtest of {a.run_dir} on {source}: {len(table)} origins {a.stride or fc.data_cfg.pred_len} rows apart, "
          f"from {_when(origins[0], origins)} to {_when(origins[-1], origins)}; means in original units: "
          f"{means}")
    if seen:
        print(f"note: {seen} of the origins {'comes' if seen == 1 else 'come'} before "
              f"{_when(pd.Timestamp(test_start))}, where the run's test rows start: the model trained or validated on "
              f"those rows, so their scores are optimistic")
    print(f"wrote one row per origin to {a.out}")


def cmd_export(a) -> None:
    from ..forecasting.export import export_onnx
    from ..forecasting.final import forecast_dir
    set_threads(a)
    folder = forecast_dir(a.run_dir)
    diff = export_onnx(folder, a.onnx)
    print(f"wrote {a.onnx} (the model of {folder}); onnxruntime matches PyTorch within {diff:.1e}")
