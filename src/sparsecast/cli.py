"""The ``sparsecast`` command line: train, evaluate, predict, backtest, export, reproduce (forecasting); lm train,
lm sample."""

import argparse
import json
import sys
import warnings
from pathlib import Path

from .console import say
from .errors import SparsecastError
from .models.registry import FORECASTERS

# Model flags: argparse name -> config field. Left unset, the model's config default (the paper's) applies.
MODEL_FLAGS = {"d_model": int, "n_heads": int, "e_layers": int, "d_layers": int, "d_ff": int, "factor": int,
               "dropout": float, "attn": str, "activation": str, "sampling": str, "selection": str, "stride": int,
               "c": int, "moving_avg": int, "patch_len": int, "patch_stride": int, "head_dropout": float}
# On/off model and series settings (--revin / --no-revin, ...); unset, the model's default applies.
SWITCHES = ("distil", "linear_skip", "channel_skip", "season_offsets", "revin", "revin_affine", "channel_independent",
            "deseason")


def _stack(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--stack takes layer counts like 3,2,1, got {text!r}") from e


def _levels(text: str) -> tuple[float, ...]:
    from .training.metrics import check_levels
    if text.strip().lower() == "none":
        return ()
    try:
        return check_levels(float(q) for q in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _add_data_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", default="ETTh1", help="built-in name (ETTh1, ETTh2, ETTm1, ETTm2, WTH, ...) or CSV path")
    g.add_argument("--root-path", default=None, help="folder of the built-in files that are not bundled")
    g.add_argument("--features", default="S", choices=["M", "S", "MS"])
    g.add_argument("--target", default=None, help="forecast column (default: the dataset's, else OT)")
    g.add_argument("--freq", default=None, help="pandas frequency (h, 15min, D, W, ...); inferred when not given")
    g.add_argument("--date-col", default="date")
    g.add_argument("--seq-len", type=int, default=None,
                   help="lookback (default: 96 on a built-in dataset; on a CSV of your own, chosen from its frequency "
                        "and length, e.g. 336 hours, 28 days, 24 months)")
    g.add_argument("--label-len", type=int, default=None,
                   help="known steps the Informer decoder starts from (default 48, at most --seq-len)")
    g.add_argument("--pred-len", type=int, default=24)
    g.add_argument("--embed", default="timeF", choices=["timeF", "fixed", "learned"])
    g.add_argument("--fill", default=None, choices=["ffill", "interpolate"],
                   help="fill missing timestamps and missing values (default: refuse such data)")
    g.add_argument("--season", type=int, default=None,
                   help="steps per season of the seasonal-naive baseline and of LongPatch's seasonal offsets "
                        "(default: from the frequency, e.g. 24 for hourly data)")
    g.add_argument("--test-windows", type=int, default=0,
                   help="score at most this many test windows, evenly spaced from the first origin to the last "
                        "(default 0: every window; for statsforecast's models, refit on every window)")


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (unset flags take the paper's defaults)")
    g.add_argument("--model", default="longpatch", choices=list(FORECASTERS),
                   help="longpatch (default), informer (the paper's), patchtst, dlinear, repeat_last, "
                        "seasonal_naive, auto_ets / auto_arima / auto_theta (statsforecast: the 'stats' extra)")
    for name, typ in MODEL_FLAGS.items():
        g.add_argument("--" + name.replace("_", "-"), type=typ, default=None)
    for name in SWITCHES:
        g.add_argument("--" + name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--stack", type=_stack, default=None, help="Informer† encoder stack, e.g. 3,2,1")


def _add_train_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training (unset: the model's defaults, the paper's for Informer and the baselines)")
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--eval-batch-size", type=int, default=256)
    g.add_argument("--lr", type=float, default=None)
    g.add_argument("--patience", type=int, default=None)
    g.add_argument("--lradj", default=None, help="learning-rate schedule: type1 (halve every epoch), type3, ...")
    g.add_argument("--loss", default=None, choices=["mse", "mae", "huber"],
                   help="training loss (default mse, the papers'; mae trains for the median forecast, huber "
                        "lets outlying windows pull less); early stopping validates with it")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    add_device_flag(g)
    add_precision_flags(g)
    g.add_argument("--compile", action="store_true", help="torch.compile the model for training and validation")
    g.add_argument("--checkpoint-minutes", type=float, default=10.0,
                   help="write the run's checkpoint inside an epoch this often, so a killed run loses at most this "
                        "much training (continue it with --resume RUN_DIR); 0: after every step")
    g.add_argument("--max-minutes", type=float, default=0.0,
                   help="stop training after this many minutes, inside an epoch if need be, keeping the best weights "
                        "so far (0: no limit; validation counts, the closed-form start before training does not)")
    g.add_argument("--quantiles", type=_levels, default=None,
                   help="levels of the prediction intervals fit on the validation windows (default 0.1,0.5,0.9; "
                        "none: no intervals)")
    g.add_argument("--no-progress", action="store_true")


def add_device_flag(g) -> None:
    g.add_argument("--device", default="auto",
                   help="where to train: auto (default: the first CUDA GPU torch sees, else the CPU), cpu, cuda, "
                        "cuda:N")


def add_precision_flags(g) -> None:
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="auto (default): bfloat16 autocast where the hardware has native bf16 (CPUs with "
                        "AVX512-BF16 or AMX, GPUs with bf16), float32 elsewhere")
    g.add_argument("--bf16", action="store_true", help="the same as --precision bf16")


def _model_params(a) -> dict:
    params = {k: getattr(a, k) for k in MODEL_FLAGS if getattr(a, k) is not None}
    for k in (*SWITCHES, "stack"):
        if getattr(a, k) is not None:
            params[k] = getattr(a, k)
    return params


def _given_train_flags(a) -> dict:
    """The optimisation flags set on the command line (unset ones take a model's or a recipe's defaults)."""
    return {k: getattr(a, k) for k in ("epochs", "batch_size", "lr", "patience", "lradj", "loss", "quantiles")
            if getattr(a, k, None) is not None}


def _train_config(a, model: str | None = None):
    """The run's TrainConfig: the flags given, else ``model``'s training defaults, else TrainConfig's."""
    from .models.registry import train_defaults
    from .training import TrainConfig
    return TrainConfig(**{**train_defaults(model), **_given_train_flags(a)}, eval_batch_size=a.eval_batch_size,
                       seed=a.seed, threads=a.threads, device=a.device, precision=a.precision, bf16=a.bf16,
                       compile=a.compile, progress=not a.no_progress, checkpoint_minutes=a.checkpoint_minutes,
                       max_minutes=a.max_minutes)


def _data_config(a):
    from .data import DataConfig
    seq_len = _default_seq_len(a) if a.seq_len is None else a.seq_len
    return DataConfig(data=a.data, root_path=a.root_path, features=a.features, target=a.target, freq=a.freq,
                      date_col=a.date_col, seq_len=seq_len, pred_len=a.pred_len,
                      label_len=min(48, seq_len) if a.label_len is None else a.label_len,
                      embed=a.embed, fill=a.fill, season=a.season, test_windows=a.test_windows)


def _default_seq_len(a) -> int:
    """96 on a built-in dataset (the paper's protocol); on a user's CSV a lookback from its frequency and length, as
    the Python API chooses, fitted to the scoring split (70 / 10 / 20%)."""
    import pandas as pd
    from .data import DataConfig, read_table
    from .data.datasets import infer_freq, resolve_path
    from .forecasting.experiment import choose_lookback
    from .timefeatures import normalize_freq
    path, builtin = resolve_path(DataConfig(data=a.data, root_path=a.root_path))
    if builtin:
        return 96
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # said when training reads the file
        frame = read_table(path, a.date_col)
    freq = normalize_freq(a.freq or infer_freq(pd.DatetimeIndex(frame["date"]), str(path)))
    seq_len = choose_lookback(a.model, _model_params(a), freq, len(frame), a.pred_len, a.season, str(path),
                              split="custom")
    say(f"lookback {seq_len} steps, chosen from the frequency ({freq}) and the {len(frame)} rows of {path.name} "
        f"(--seq-len sets it)")
    return seq_len


def cmd_train(a) -> None:
    from .forecasting import train_run
    from .training.distributed import Distributed
    if a.resume:
        from .forecasting.experiment import resume_run
        from .forecasting.final import FINAL, clear_final, refit_finished
        from .forecasting.run_dir import CHECKPOINT, CONFIG, METRICS, read_json
        a.out = a.resume
        config = read_json(Path(a.out) / CONFIG)
        data, model = config["data"]["data"], config["model_name"]
        refit = config.get("refit", _wants_refit(a, data)) if a.refit is None else a.refit  # as the run set out
        done = Path(a.out, METRICS).is_file() and not Path(a.out, CHECKPOINT).is_file()  # trained and scored
        refitted = refit_finished(a.out)
        if done and (not refit or refitted):
            if refitted:
                Path(a.out, FINAL, CHECKPOINT).unlink(missing_ok=True)  # left if stopped right after saving
            elif a.refit is False:
                clear_final(a.out)  # a stopped refit, not wanted
            print(f"nothing to resume in {a.out}: its training finished"
                  + (" and so did its refit on every row" if refitted else "")
                  + ("" if refit else " (--refit fits it on every row)"))
            return
        metrics = read_json(Path(a.out) / METRICS) if done else resume_run(a.resume)
    else:
        data, model, refit = a.data, a.model, _wants_refit(a, a.data)
        dist = Distributed.from_env(a.device) if a.ddp else Distributed()
        try:
            metrics = train_run(_data_config(a), a.model, _model_params(a), _train_config(a, a.model), a.out,
                                dist=dist, refit=refit)
        finally:
            dist.close()
        if not dist.is_main:
            return
    _print_test_scores(metrics)
    _print_intervals(metrics)
    _print_paper(metrics)
    user_csv = _user_csv(data)
    if refit:
        from .forecasting.final import refit_run
        print(f"refitting the model on every row of {data} for predict (the last 10% held out for early stopping); "
              f"the scores above are those of the model trained on its training split alone; if it is stopped, "
              f"sparsecast train --resume {a.out} continues it")
        final = refit_run(a.out, resume=bool(a.resume))
        print(f"run folder: {a.out} (metrics.json, forecasts.png, loss.png; {final}: the refit model predict uses)")
        return
    hint = "" if user_csv or model == "informer" else "; the paper's Informer: the same command with --model " \
        "informer (make paper: its univariate 96/48/24 setting)"
    later = "" if not user_csv else "; predict forecasts with this model, trained on the first 70% of the rows " \
        "(--refit fits it on every row)"
    print(f"run folder: {a.out} (metrics.json, forecasts.png, loss.png){hint}{later}")


def _user_csv(data: str) -> bool:
    from .data.datasets import BUILTIN
    return data not in BUILTIN and Path(data).is_file()


def _wants_refit(a, data: str) -> bool:
    """--refit / --no-refit, else on for a CSV of the user's own (off under --ddp)."""
    return (_user_csv(data) and not a.ddp) if a.refit is None else a.refit


def _print_intervals(metrics: dict) -> None:
    for band, v in (metrics["intervals"] or {"coverage": {}})["coverage"].items():
        print(f"interval {band} (fit on validation) covers {100 * v['coverage']:.1f}% of the test truth "
              f"(nominal {100 * v['nominal']:.0f}%)")


def _print_paper(metrics: dict) -> None:
    paper = metrics["paper"]
    if paper:
        note = "same setting" if paper["same_setting"] else \
            f"paper setting: seq {paper['seq_len']}, label {paper['label_len']}"
        print(f"paper Informer           MSE {paper['mse']:.4f}  MAE {paper['mae']:.4f}  ({note})")


def _print_test_scores(metrics: dict) -> None:
    """A run's test scores as train and evaluate print them: normalized, in original units, and against the
    seasonal-naive and repeat-last baselines on the same windows."""
    t, u = metrics["test"], metrics["test_original_units"]
    print(f"test ({metrics['test_windows']} windows)  MSE {t['mse']:.4f}  MAE {t['mae']:.4f}  (normalized)")
    print(f"test in original units   MSE {u['mse']:.4f}  MAE {u['mae']:.4f}")
    skill = metrics["skill"]
    naive = skill["baselines"].get("seasonal_naive")
    if naive:
        ratio, mase = (f"{v:.3f}" if v is not None else "-" for v in (skill["skill_vs_seasonal_naive"], skill["mase"]))
        print(f"seasonal naive (season {skill['season']})  MSE {naive['mse']:.4f}  MAE {naive['mae']:.4f}; "
              f"skill (MSE / seasonal naive's, below 1 beats it) {ratio}, MASE {mase} (MAE over seasonal naive's "
              f"in-sample MAE on the training rows)")
        if skill["skill_vs_seasonal_naive"] is not None and skill["skill_vs_seasonal_naive"] >= 1:
            print(f"note: on these test windows the model does not beat seasonal naive (MSE {t['mse']:.4f} against "
                  f"{naive['mse']:.4f}); try more epochs or another --seq-len, or forecast with --model seasonal_naive "
                  f"(Python: Forecaster('auto') chooses between them on validation)")
    last = skill["baselines"]["repeat_last"]
    print(f"repeat last              MSE {last['mse']:.4f}  MAE {last['mae']:.4f}")


def cmd_evaluate(a) -> None:
    from .forecasting import evaluate_run
    metrics = evaluate_run(a.run_dir, precision=a.precision)
    if a.json:
        print(json.dumps(metrics, indent=2))
        return
    _print_test_scores(metrics)
    print(f"re-scored {a.run_dir} on its test split (--json prints every figure as JSON)")


def cmd_predict(a) -> None:
    from .data import read_table
    from .forecasting.intervals import column_name
    from .forecasting.plots import plot_history_forecast
    from .forecasting.predict import ForecastSpec, forecast_future
    from .forecasting.run_dir import load_intervals, load_run
    from .forecasting.final import forecast_dir
    folder = forecast_dir(a.run_dir)
    model, config, scaler = load_run(folder)
    spec = ForecastSpec.from_run(config, scaler, load_intervals(folder))
    frame = read_table(a.input, spec.data.date_col)
    forecast = forecast_future(model, spec, frame)
    forecast.rename(columns={"date": spec.data.date_col}).to_csv(a.out, index=False)
    if a.plot:
        target, band = spec.target_columns[-1], None
        if spec.intervals is not None:
            band = tuple(column_name(target, spec.intervals.levels[k]) for k in (0, -1))
        plot_history_forecast(a.plot, frame, forecast, target, spec.data.seq_len, band)
    which = "the model refit on every row" if folder != Path(a.run_dir) else "the run's model"
    first, last = (_when(forecast["date"].iloc[i]) for i in (0, -1))
    print(f"wrote {len(forecast)} steps from {first} to {last} to {a.out} ({which}, {folder})")


def _when(t) -> str:
    """A timestamp as messages show it: the date alone at midnight (daily and coarser data), else date and time."""
    return str(t.date()) if t == t.normalize() else str(t)


def cmd_backtest(a) -> None:
    import pandas as pd

    from .forecaster import Forecaster
    from .forecasting.final import data_path, read_user_frame
    from .forecasting.run_dir import CONFIG, METRICS, read_json
    fc = Forecaster.load(a.run_dir)
    source = a.input or data_path(read_json(Path(a.run_dir) / CONFIG))
    table = fc.backtest(read_user_frame(source, fc.data_cfg.date_col), windows=a.windows, stride=a.stride)
    table.to_csv(a.out, index=False)
    test_start = read_json(Path(a.run_dir) / METRICS).get("test_start")
    seen = int((table["origin"] < pd.Timestamp(test_start)).sum()) if test_start else 0
    cols = [c for c in ("mse", "mae", "seasonal_naive_mse", "skill", "coverage_0.1-0.9") if c in table.columns]
    means = ", ".join(f"{c} {table[c].mean():.4g}" for c in cols)
    print(f"backtest of {a.run_dir} on {source}: {len(table)} origins {a.stride or fc.data_cfg.pred_len} rows apart, "
          f"from {_when(table['origin'].iloc[0])} to {_when(table['origin'].iloc[-1])}; means in original units: "
          f"{means}")
    if seen:
        print(f"note: {seen} of the origins {'comes' if seen == 1 else 'come'} before {_when(pd.Timestamp(test_start))}, "
              f"where the run's test rows start: the model "
              f"trained or validated on those rows, so their scores are optimistic")
    print(f"wrote one row per origin to {a.out}")


def cmd_export(a) -> None:
    from .forecasting.export import export_onnx
    from .forecasting.final import forecast_dir
    folder = forecast_dir(a.run_dir)
    diff = export_onnx(folder, a.onnx)
    print(f"wrote {a.onnx} (the model of {folder}); onnxruntime matches PyTorch within {diff:.1e}")


def cmd_reproduce(a) -> None:
    from .forecasting.reproduce import reproduce
    horizons = [int(h) for h in a.horizons.split(",")] if a.horizons else None
    models = a.models.split(",") if a.models else None
    seeds = [int(s) for s in a.seeds.split(",")] if a.seeds else None
    path = reproduce(a.table, a.data, Path(a.out), a.root_path, horizons, _train_config(a), models, seeds=seeds)
    print(path.read_text())


def cmd_benchmark_ltsf(a) -> None:
    from .forecasting.ltsf import HORIZONS, ltsf_table
    if a.summary:
        from .forecasting.ltsf_summary import write_summary
        print(write_summary(Path(a.out), Path(a.readme) if a.readme else None).read_text())
        return
    horizons = [int(h) for h in a.horizons.split(",")] if a.horizons else list(HORIZONS)
    seeds = [int(s) for s in a.seeds.split(",")]
    path = ltsf_table(a.data, _split_models(a.models), horizons, seeds, Path(a.out), a.root_path, _train_config(a),
                      train_overrides=_given_train_flags(a))
    print(path.read_text())


def _split_models(text: str) -> list[str]:
    """Split a --models list at commas that start a new model (``longpatch:attn=full,seq_len=336,dlinear``)."""
    from .forecasting.ltsf import RECIPES
    out = []
    for part in text.split(","):
        if out and part.partition(":")[0] not in RECIPES:
            out[-1] += "," + part
        else:
            out.append(part)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparsecast", description=(
        "Long-sequence forecasting with sparse attention (LongPatch by default, the paper's Informer, statistical "
        "models) and the Sparse Transformer on bytes and images"))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a forecaster and write a run folder")
    _add_data_flags(p)
    _add_model_flags(p)
    _add_train_flags(p)
    p.add_argument("--out", default="runs/latest", help="run folder to write (default runs/latest, replaced)")
    p.add_argument("--refit", action=argparse.BooleanOptionalAction, default=None,
                   help="after scoring, fit the model again on every row for predict and export (in RUN/final); "
                        "default: on for a CSV of your own, off for the built-in datasets")
    p.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="continue a killed run from its last checkpoint, with its own settings (or its refit on "
                        "every row, where that was stopped)")
    p.add_argument("--ddp", action="store_true",
                   help="data-parallel training under torchrun (e.g. torchrun --nproc-per-node 2 -m sparsecast.cli "
                        "train --ddp ...)")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="re-score a saved run on its test split")
    p.add_argument("run_dir")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16"],
                   help="default: the precision the run trained in")
    p.add_argument("--json", action="store_true", help="print every figure as JSON (for scripts)")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("predict", help="forecast the steps after the last row of a CSV, in original units")
    p.add_argument("run_dir")
    p.add_argument("--input", required=True, help="CSV of recent history (at least seq_len rows, same columns)")
    p.add_argument("--out", default="forecast.csv", help="CSV to write (default forecast.csv, replaced)")
    p.add_argument("--plot", default=None, help="PNG of the history and the forecast")
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("backtest", help="rolling-origin scores of a run's model on the last horizons of a CSV")
    p.add_argument("run_dir")
    p.add_argument("--input", default=None, help="CSV to backtest on (default: the run's own data file)")
    p.add_argument("--windows", type=int, default=10, help="forecast origins, the last one a horizon before the end")
    p.add_argument("--stride", type=int, default=None, help="rows between origins (default: the horizon)")
    p.add_argument("--out", default="backtest.csv", help="CSV of the scores per origin (default backtest.csv)")
    p.set_defaults(func=cmd_backtest)
    p = sub.add_parser("export", help="export a trained forecaster to ONNX, checked in onnxruntime")
    p.add_argument("run_dir")
    p.add_argument("--onnx", required=True, help="path of the .onnx file to write")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("reproduce", help="run one of the paper's tables with its per-horizon settings")
    p.add_argument("--table", required=True, choices=["univariate", "multivariate"])
    p.add_argument("--data", default="ETTh1")
    p.add_argument("--root-path", default=None)
    p.add_argument("--horizons", default=None, help="comma-separated subset, e.g. 24,48")
    p.add_argument("--models", default=None,
                   help="comma-separated subset of: informer, informer_prefix, full (Informer‡), informer_revin, "
                        "dlinear, repeat_last")
    p.add_argument("--seeds", default=None, help="comma-separated seeds, each a run of every cell (default: --seed); "
                                                 "the table gives mean ± std")
    p.add_argument("--out", default="benchmarks/results/paper")
    _add_train_flags(p)
    p.set_defaults(func=cmd_reproduce)
    p = sub.add_parser("benchmark", help="run a benchmark table")
    bench = p.add_subparsers(dest="benchmark", required=True)
    p = bench.add_parser("ltsf", help="the LTSF protocol (features M, horizons 96-720) for several models and seeds")
    p.add_argument("--data", default="ETTh1")
    p.add_argument("--root-path", default=None)
    p.add_argument("--models", default="longpatch,patchtst,dlinear,repeat_last",
                   help="models of the table, each with optional overrides: longpatch:attn=full,seq_len=336")
    p.add_argument("--horizons", default=None, help="comma-separated (default 96,192,336,720)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out", default="benchmarks/results/ltsf")
    p.add_argument("--summary", action="store_true",
                   help="run nothing: write the table across datasets (summary.md in --out) from their JSON")
    p.add_argument("--readme", default=None, help="with --summary: also replace the table in this README")
    _add_train_flags(p)
    p.set_defaults(func=cmd_benchmark_ltsf, no_progress=True)
    from .lm.cli import add_lm_parsers
    add_lm_parsers(sub)
    return parser


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """sparsecast's own warnings (filled gaps, sorted rows, ...) as one line each, as the errors print; any other
    (a library's, a deprecation) as Python formats it."""
    if issubclass(category, UserWarning) and "sparsecast" in Path(filename).parts:
        return f"sparsecast: warning: {message}\n"
    return _FORMAT_WARNING(message, category, filename, lineno, line)


_FORMAT_WARNING = warnings.formatwarning


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    shown, warnings.formatwarning = warnings.formatwarning, _warning_line
    try:
        args.func(args)
    except (SparsecastError, ValueError, FloatingPointError, OSError) as e:  # OSError: e.g. the disk filled up
        print(f"sparsecast: error: {e}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = shown
    return 0


if __name__ == "__main__":
    sys.exit(main())
