"""The ``sparsecast`` parser (every command and its flags) and ``main``, which runs a command and prints
sparsecast's errors and warnings as one line each."""

import argparse
import sys
from contextlib import nullcontext
import warnings
from pathlib import Path

from ..errors import SparsecastError
from ..training.interrupt import Interrupted, Terminated, sigterm_raises
from .flags import add_data_flags, add_input_flags, add_model_flags, add_threads_flag, add_train_flags
from .lm import add_lm_parsers
from .runs import cmd_backtest, cmd_evaluate, cmd_export, cmd_predict
from .tables import cmd_benchmark_ltsf, cmd_reproduce
from .train import cmd_train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparsecast", description=(
        "Long-sequence forecasting with sparse attention (LongPatch, the paper's Informer, statistical models, and "
        "auto, the default on a CSV of one's own, which chooses among them) and the Sparse Transformer on bytes and "
        "images"))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a forecaster and write a run folder")
    add_data_flags(p)
    add_model_flags(p)
    add_train_flags(p)
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
    add_threads_flag(p)
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16"],
                   help="default: the precision the run trained in")
    p.add_argument("--json", action="store_true", help="print every figure as JSON (for scripts)")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("predict", help="forecast the steps after the last row of a CSV, in original units")
    p.add_argument("run_dir")
    p.add_argument("--input", required=True,
                   help="CSV of recent history: the training file's columns, at least the run's lookback of rows "
                        "(the last ones are read)")
    p.add_argument("--out", default="forecast.csv", help="CSV to write (default forecast.csv, replaced)")
    p.add_argument("--plot", default=None, help="PNG of the history and the forecast")
    add_input_flags(p)
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("backtest", help="rolling-origin scores of a run's model on the last horizons of a CSV")
    p.add_argument("run_dir")
    p.add_argument("--input", default=None, help="CSV to backtest on (default: the run's own data file)")
    p.add_argument("--windows", type=int, default=10, help="forecast origins, the last one a horizon before the end")
    p.add_argument("--stride", type=int, default=None, help="rows between origins (default: the horizon)")
    p.add_argument("--out", default="backtest.csv", help="CSV of the scores per origin (default backtest.csv)")
    add_input_flags(p)
    p.set_defaults(func=cmd_backtest)
    p = sub.add_parser("export", help="export a trained forecaster to ONNX, checked in onnxruntime")
    p.add_argument("run_dir")
    p.add_argument("--onnx", required=True, help="path of the .onnx file to write")
    add_threads_flag(p)
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("reproduce", help="run one of the paper's tables with its per-horizon settings")
    p.add_argument("--table", required=True, choices=["univariate", "multivariate"])
    p.add_argument("--data", default="ETTh1")
    p.add_argument("--root-path", default=None)
    p.add_argument("--horizons", default=None, help="comma-separated subset, e.g. 24,48")
    p.add_argument("--models", default=None,
                   help="comma-separated subset of: informer, informer_prefix, full (Informer‡), informer_revin, "
                        "dlinear, repeat_last, seasonal_naive (the default: all of these), informer_mix_cumsum (the "
                        "official code's decoder head mix and lazy sum: --mix --lazy cumsum)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds, each a run of every cell (default: --seed); "
                                                 "the table gives mean ± std")
    p.add_argument("--out", default="benchmarks/results/paper")
    add_train_flags(p)
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
    add_train_flags(p)
    p.set_defaults(func=cmd_benchmark_ltsf, no_progress=True)
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
        # under --ddp a rank waiting in a collective would not get back to Python to raise: SIGTERM ends it
        with nullcontext() if getattr(args, "ddp", False) else sigterm_raises():
            args.func(args)
    except (SparsecastError, ValueError, FloatingPointError, OSError) as e:  # OSError: e.g. the disk filled up
        print(f"sparsecast: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"sparsecast: {e}; {_continue_with(args)}", file=sys.stderr)
        return 128 + e.signum  # the shell's status for a process its signal stopped: 130 SIGINT, 143 SIGTERM
    except Terminated as e:  # outside a training step: loading, scoring, writing
        resume = f"; where its checkpoint was written, {_continue_with(args)}" if _trains(args) else ""
        print(f"sparsecast: stopped by SIGTERM{resume}", file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print("sparsecast: stopped", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = shown
    return 0


def _trains(args) -> bool:
    """Whether the command trains forecasters with checkpoints (train, reproduce, benchmark ltsf)."""
    return hasattr(args, "checkpoint_minutes")


def _continue_with(args) -> str:
    """How to continue a run stopped with its checkpoint written, in words for the command that ran it."""
    if args.command == "train":
        return f"sparsecast train --resume {args.resume or args.out} continues it"
    return "the same command continues it (finished cells are skipped)"
