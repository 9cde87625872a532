"""The ``sparsecast`` command line: train, evaluate, reproduce."""

import argparse
import json
import sys
from pathlib import Path

from .errors import SparsecastError

# Model flags: argparse name -> config field. Left unset, the model's config default (the paper's) applies.
MODEL_FLAGS = {"d_model": int, "n_heads": int, "e_layers": int, "d_layers": int, "d_ff": int, "factor": int,
               "dropout": float, "attn": str, "activation": str, "sampling": str, "stride": int, "c": int,
               "moving_avg": int}


def _stack(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--stack takes layer counts like 3,2,1, got {text!r}") from e


def _add_data_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", default="ETTh1", help="built-in name (ETTh1, ETTh2, ETTm1, ETTm2, WTH, ...) or CSV path")
    g.add_argument("--root-path", default=None, help="folder of the built-in files that are not bundled")
    g.add_argument("--features", default="S", choices=["M", "S", "MS"])
    g.add_argument("--target", default=None, help="forecast column (default: the dataset's, else OT)")
    g.add_argument("--freq", default=None, help="pandas frequency (h, 15min, D, W, ...); inferred when not given")
    g.add_argument("--date-col", default="date")
    g.add_argument("--seq-len", type=int, default=96)
    g.add_argument("--label-len", type=int, default=48)
    g.add_argument("--pred-len", type=int, default=24)
    g.add_argument("--embed", default="timeF", choices=["timeF", "fixed", "learned"])


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (unset flags take the paper's defaults)")
    g.add_argument("--model", default="informer", choices=["informer", "dlinear", "repeat_last"])
    for name, typ in MODEL_FLAGS.items():
        g.add_argument("--" + name.replace("_", "-"), type=typ, default=None)
    g.add_argument("--distil", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--stack", type=_stack, default=None, help="Informer† encoder stack, e.g. 3,2,1")


def _add_train_flags(p: argparse.ArgumentParser, epochs: int = 6) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=epochs)
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--eval-batch-size", type=int, default=256)
    g.add_argument("--lr", type=float, default=1e-4)
    g.add_argument("--patience", type=int, default=3)
    g.add_argument("--lradj", default="type1")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    g.add_argument("--no-progress", action="store_true")


def _model_params(a) -> dict:
    params = {k: getattr(a, k) for k in MODEL_FLAGS if getattr(a, k) is not None}
    for k in ("distil", "stack"):
        if getattr(a, k) is not None:
            params[k] = getattr(a, k)
    return params


def _train_config(a):
    from .training import TrainConfig
    return TrainConfig(epochs=a.epochs, batch_size=a.batch_size, eval_batch_size=a.eval_batch_size, lr=a.lr,
                       patience=a.patience, lradj=a.lradj, seed=a.seed, threads=a.threads,
                       progress=not a.no_progress)


def _data_config(a):
    from .data import DataConfig
    return DataConfig(data=a.data, root_path=a.root_path, features=a.features, target=a.target, freq=a.freq,
                      date_col=a.date_col, seq_len=a.seq_len, label_len=a.label_len, pred_len=a.pred_len,
                      embed=a.embed)


def cmd_train(a) -> None:
    from .forecasting import train_run
    metrics = train_run(_data_config(a), a.model, _model_params(a), _train_config(a), a.out)
    t, u = metrics["test"], metrics["test_original_units"]
    print(f"test ({metrics['test_windows']} windows)  MSE {t['mse']:.4f}  MAE {t['mae']:.4f}  (normalized)")
    print(f"test in original units   MSE {u['mse']:.4f}  MAE {u['mae']:.4f}")
    paper = metrics["paper"]
    if paper:
        note = "same setting" if paper["same_setting"] else \
            f"paper setting: seq {paper['seq_len']}, label {paper['label_len']}"
        print(f"paper Informer           MSE {paper['mse']:.4f}  MAE {paper['mae']:.4f}  ({note})")
    print(f"run folder: {a.out}")


def cmd_evaluate(a) -> None:
    from .forecasting import evaluate_run
    metrics = evaluate_run(a.run_dir)
    print(json.dumps(metrics, indent=2))


def cmd_reproduce(a) -> None:
    from .forecasting.reproduce import reproduce
    horizons = [int(h) for h in a.horizons.split(",")] if a.horizons else None
    models = a.models.split(",") if a.models else None
    path = reproduce(a.table, a.data, Path(a.out), a.root_path, horizons, _train_config(a), models)
    print(path.read_text())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparsecast", description="Sparse-attention forecasting (Informer)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a forecaster and write a run folder")
    _add_data_flags(p)
    _add_model_flags(p)
    _add_train_flags(p)
    p.add_argument("--out", default="runs/latest", help="run folder to write")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="re-score a saved run on its test split")
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("reproduce", help="run one of the paper's tables with its per-horizon settings")
    p.add_argument("--table", required=True, choices=["univariate", "multivariate"])
    p.add_argument("--data", default="ETTh1")
    p.add_argument("--root-path", default=None)
    p.add_argument("--horizons", default=None, help="comma-separated subset, e.g. 24,48")
    p.add_argument("--models", default=None, help="comma-separated subset of: informer, full (Informer‡), dlinear, repeat_last")
    p.add_argument("--out", default="benchmarks/results/paper")
    _add_train_flags(p)
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (SparsecastError, ValueError, FloatingPointError) as e:
        print(f"sparsecast: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
