"""The flags the forecasting commands share (data, model, training, device, precision) and the configs built from
them."""

import argparse

from ..models.registry import AUTO, FORECASTERS

# training.schedules.SCHEDULES' names (not imported here: that imports torch)
SCHEDULE_NAMES = ("type1", "type3", "cosine", "constant", "onecycle", "patchtst_type3")
# Model flags: argparse name -> config field. Left unset, the model's config default (the paper's) applies.
MODEL_FLAGS = {"d_model": int, "n_heads": int, "e_layers": int, "d_layers": int, "d_ff": int, "factor": int,
               "dropout": float, "attn": str, "activation": str, "sampling": str, "selection": str, "stride": int,
               "c": int, "moving_avg": int, "patch_len": int, "patch_stride": int, "head_dropout": float, "lazy": str,
               "norm": str}
# On/off model and series settings (--revin / --no-revin, ...); unset, the model's default applies.
SWITCHES = ("distil", "linear_skip", "channel_skip", "season_offsets", "revin", "revin_affine", "channel_independent",
            "deseason", "mix", "tst_layers")
FLAG_HELP = {  # every model flag and switch: what it sets, and the values it takes
    "d_model": "model width (Informer's default 512, LongPatch's and PatchTST's 16)",
    "n_heads": "attention heads", "e_layers": "encoder layers", "d_layers": "Informer decoder layers",
    "d_ff": "feed-forward width of each layer",
    "factor": "ProbSparse sampling factor c: u = c ln L queries attend, each scored on c ln L keys",
    "dropout": "dropout inside the layers",
    "stride": "strided / fixed attention: block length l (default: a power of two near the square root of L)",
    "c": "fixed attention: summary positions at the end of each block",
    "moving_avg": "DLinear: the moving-average window that splits trend from the rest (default 25)",
    "patch_len": "LongPatch / PatchTST: steps per patch (default 16)",
    "patch_stride": "LongPatch / PatchTST: steps between patch starts (default 8)",
    "head_dropout": "LongPatch / PatchTST: dropout before the flatten head",
    "distil": "Informer: halve the sequence between encoder layers (conv, BatchNorm, ELU, max-pool; default on)",
    "linear_skip": "LongPatch: add a linear map of the whole lookback to the horizon (default on)",
    "channel_skip": "LongPatch: one linear skip per channel (on), one shared (off); unset: validation chooses",
    "season_offsets": "LongPatch: per channel, a horizon profile for the phase of the season the forecast starts in",
    "revin": "instance normalization: each window's mean and std out at the input, back at the output (RevIN)",
    "revin_affine": "RevIN's learnable per-channel scale and shift",
    "channel_independent": "every channel a univariate series through the same weights",
    "deseason": "take each channel's daily profile out of sub-daily input and put it back on the forecast",
    "attn": "attention kernel: probsparse (Informer's and LongPatch's default), full, strided or fixed",
    "sampling": "ProbSparse's key sample: shared (the default: one sample for every query) or per_query (the "
                "paper's)",
    "selection": "Informer's masked ProbSparse: global (the default: the paper's top u rows attend) or prefix (a row's "
                 "score ranked among the rows before it)",
    "activation": "feed-forward activation: gelu (the default) or relu",
    "norm": "LongPatch / PatchTST encoder layers' normalization: layer (LayerNorm, the default) or batch (BatchNorm "
            "over the width, PatchTST's)",
    "lazy": "Informer's masked ProbSparse: what lazy queries get, mean (uniform attention, the paper's) or cumsum "
            "(the official code's)",
    "mix": "Informer: merge the decoder self-attention's heads as the official code's mix=True does",
    "tst_layers": "PatchTST: the encoder layers of its own code (BatchNorm, residual attention) instead of ours",
}


def _stack(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--stack takes layer counts like 3,2,1, got {text!r}") from e


def _levels(text: str) -> tuple[float, ...]:
    from ..training.metrics import check_levels
    if text.strip().lower() == "none":
        return ()
    try:
        return check_levels(float(q) for q in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def add_data_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", default="ETTh1", help="built-in name (ETTh1, ETTh2, ETTm1, ETTm2, WTH, ...) or CSV path")
    g.add_argument("--root-path", default=None, help="folder of the built-in files that are not bundled")
    g.add_argument("--features", default="S", choices=["M", "S", "MS"],
                   help="S (default): the target from its own past; M: every numeric column from all of them; MS: "
                        "the target from all of them")
    g.add_argument("--target", default=None,
                   help="forecast column (default: the built-in dataset's; on a CSV, OT where there is one, else the "
                        "only numeric column; with several and none named OT, train asks for one)")
    g.add_argument("--freq", default=None, help="pandas frequency (h, 15min, D, W, ...); inferred when not given")
    g.add_argument("--date-col", default="date",
                   help="the time column (default: date, else the one column named for time, such as Date, "
                        "timestamp or ds, whose every row is a date)")
    g.add_argument("--seq-len", type=int, default=None,
                   help="lookback (default: 96 on a built-in dataset; on a CSV of your own, chosen from its frequency "
                        "and length: 336 steps of sub-daily data, 4 weeks of days, 2 years of weeks or months, at "
                        "least twice --pred-len; shortened to fit a short series)")
    g.add_argument("--label-len", type=int, default=None,
                   help="known steps the Informer decoder starts from (default 48, at most --seq-len)")
    g.add_argument("--pred-len", type=int, default=24, help="steps to forecast, the horizon (default 24)")
    g.add_argument("--embed", default="timeF", choices=["timeF", "fixed", "learned"],
                   help="Informer's time-stamp embedding: timeF (continuous features, the default), fixed (sinusoidal "
                        "tables) or learned")
    g.add_argument("--fill", default=None, choices=["ffill", "interpolate"],
                   help="fill missing timestamps and missing values (default: refuse such data)")
    g.add_argument("--season", type=int, default=None,
                   help="steps per season of the seasonal-naive baseline and of LongPatch's seasonal offsets "
                        "(default: from the frequency, e.g. 24 for hourly data)")
    g.add_argument("--test-windows", type=int, default=0,
                   help="score at most this many test windows, evenly spaced from the first origin to the last "
                        "(default 0: every window; for statsforecast's models, refit on every window)")


def add_model_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (unset flags take the model's defaults: the paper's for Informer, the recipe's for "
                             "LongPatch and PatchTST)")
    g.add_argument("--model", default=None, choices=[*FORECASTERS, AUTO],
                   help="auto (the default on a CSV of your own: chooses among LongPatch, DLinear, seasonal naive "
                        "and, with the 'stats' extra, AutoETS and AutoARIMA on the rows before the test split, or "
                        "weights them), longpatch (the default on a built-in dataset, or where model flags are "
                        "given), informer (the paper's), patchtst, dlinear, repeat_last, seasonal_naive, auto_ets / "
                        "auto_arima / auto_theta (statsforecast: the 'stats' extra)")
    for name, typ in MODEL_FLAGS.items():
        g.add_argument("--" + name.replace("_", "-"), type=typ, default=None, help=FLAG_HELP[name])
    for name in SWITCHES:
        g.add_argument("--" + name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=None,
                       help=FLAG_HELP[name])
    g.add_argument("--stack", type=_stack, default=None, help="Informer† encoder stack, e.g. 3,2,1")


def add_train_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training (unset: the model's defaults, the paper's for Informer and the baselines)")
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--eval-batch-size", type=int, default=64)  # training.EVAL_BATCH_SIZE (not imported: torch)
    g.add_argument("--lr", type=float, default=None)
    g.add_argument("--patience", type=int, default=None)
    g.add_argument("--lradj", default=None, choices=SCHEDULE_NAMES,
                   help="learning-rate schedule: type1 (halve every epoch, the paper's), type3 (PatchTST's: 3 epochs "
                        "at --lr, then 0.9x a epoch), cosine, constant, onecycle (PatchTST's TST: at every step, up "
                        "to --lr over --pct-start of the run, then down), patchtst_type3 (type3 as PatchTST's code "
                        "runs it: a first epoch at --lr / 25, Adam's beta1 0.95)")
    g.add_argument("--pct-start", type=float, default=None,
                   help="onecycle's share of the run spent rising to --lr (default 0.3)")
    g.add_argument("--loss", default=None, choices=["mse", "mae", "huber"],
                   help="training loss (default mse, the papers'; mae trains for the median forecast, huber "
                        "lets outlying windows pull less); early stopping validates with it")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threads", type=_threads, default=0, help="torch CPU threads (0: torch's default)")
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
    g.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")


def add_threads_flag(p: argparse.ArgumentParser) -> None:
    """--threads for the commands on a saved run (evaluate, predict, backtest, export)."""
    p.add_argument("--threads", type=_threads, default=0, help="torch CPU threads (0: torch's default)")


def _threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"--threads takes a count of threads (0: torch's default), got {text!r}")
    return n


def add_input_flags(p: argparse.ArgumentParser) -> None:
    """The flags of the commands that read a CSV into a saved run's model (predict, backtest)."""
    p.add_argument("--date-col", default=None,
                   help="the input's time column, where its name differs from the training file's")
    add_threads_flag(p)


def set_threads(a) -> None:
    """torch's CPU threads as --threads asks (0: its default)."""
    if a.threads:
        import torch
        torch.set_num_threads(a.threads)


def add_device_flag(g) -> None:
    g.add_argument("--device", default="auto",
                   help="where to train: auto (default: the first CUDA GPU torch sees, else the CPU), cpu, cuda, "
                        "cuda:N")


def add_precision_flags(g) -> None:
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="auto (default): bfloat16 autocast where the hardware has native bf16 (CPUs with "
                        "AVX512-BF16 or AMX, GPUs with bf16; on a CPU not for models 64 wide or narrower, such as "
                        "LongPatch), float32 elsewhere")
    g.add_argument("--bf16", action="store_true", help="the same as --precision bf16")


def model_params(a) -> dict:
    """The model and series settings given on the command line (unset ones take the model's defaults)."""
    params = {k: getattr(a, k) for k in MODEL_FLAGS if getattr(a, k) is not None}
    for k in (*SWITCHES, "stack"):
        if getattr(a, k) is not None:
            params[k] = getattr(a, k)
    return params


def given_train_flags(a) -> dict:
    """The optimisation flags set on the command line (unset ones take a model's or a recipe's defaults)."""
    return {k: getattr(a, k) for k in ("epochs", "batch_size", "lr", "patience", "lradj", "pct_start", "loss",
                                       "quantiles")
            if getattr(a, k, None) is not None}


def run_flags(a) -> dict:
    """The training flags that say how a run computes and shows, not what it optimises (they always apply)."""
    return {"eval_batch_size": a.eval_batch_size, "seed": a.seed, "threads": a.threads, "device": a.device,
            "precision": a.precision, "bf16": a.bf16, "compile": a.compile, "progress": not a.no_progress,
            "checkpoint_minutes": a.checkpoint_minutes, "max_minutes": a.max_minutes}


def train_config(a, model: str | None = None):
    """The run's TrainConfig: the flags given, else ``model``'s training defaults, else TrainConfig's."""
    from ..models.registry import train_defaults
    from ..training import TrainConfig
    return TrainConfig(**{**train_defaults(model), **given_train_flags(a)}, **run_flags(a))
