"""``sparsecast train``: train a forecaster on a built-in dataset or a CSV, score it, and refit it on every row of a
user's CSV for predict."""

from pathlib import Path

from ..console import say
from ..errors import SparsecastError
from ..models.registry import AUTO
from .flags import given_train_flags, model_params, run_flags, train_config
from .scores import print_intervals, print_paper, print_test_scores

DEFAULT_MODEL = "longpatch"  # of `train` on a built-in dataset, with model flags or under --ddp


def data_config(a):
    """The run's DataConfig and, for a CSV of the user's own without --seq-len, the frame read to choose the lookback
    (handed on to training, so that the file is read once). Under --model auto each candidate chooses its own
    lookback: the DataConfig's is a placeholder then."""
    from ..data import DataConfig
    frame = None
    if a.seq_len is not None:
        seq_len = a.seq_len
    elif a.model == AUTO:
        seq_len = max(a.pred_len, a.label_len or 0)
    else:
        seq_len, frame = _default_seq_len(a)
    cfg = DataConfig(data=a.data, root_path=a.root_path, features=a.features, target=a.target, freq=a.freq,
                     date_col=a.date_col, seq_len=seq_len, pred_len=a.pred_len,
                     label_len=min(48, seq_len) if a.label_len is None else a.label_len,
                     embed=a.embed, fill=a.fill, season=a.season, test_windows=a.test_windows)
    return cfg, frame


def _default_seq_len(a):
    """96 on a built-in dataset (the paper's protocol); on a user's CSV a lookback from its frequency and length, as
    the Python API chooses, fitted to the scoring split (70 / 10 / 20%). Returns it and the frame read (None for a
    built-in dataset)."""
    import pandas as pd

    from ..data import DataConfig, read_table
    from ..data.datasets import grid_rows, infer_freq, resolve_path
    from ..forecasting.lookback import choose_lookback
    from ..timefeatures import normalize_freq
    path, builtin = resolve_path(DataConfig(data=a.data, root_path=a.root_path))
    if builtin:
        return 96, None
    frame = read_table(path, a.date_col)
    freq = normalize_freq(a.freq or infer_freq(pd.DatetimeIndex(frame["date"]), str(path)))
    rows = grid_rows(frame, freq, a.fill)  # with the gaps --fill fills
    seq_len = choose_lookback(a.model, model_params(a), freq, rows, a.pred_len, a.season, str(path),
                              split="custom")
    say(f"lookback {seq_len} steps, chosen from the frequency ({freq}) and the {rows} rows of {path.name} "
        f"(--seq-len sets it)")
    return seq_len, frame


def cmd_train(a) -> None:
    from ..forecasting import train_run
    from ..training.distributed import Distributed
    if a.resume:
        from ..forecasting.experiment import resume_run
        from ..forecasting.final import refit_finished
        from ..forecasting.run_dir import CHECKPOINT, CONFIG, FINAL, METRICS, clear_final, read_json
        a.out = a.resume
        config = read_json(Path(a.out) / CONFIG)
        auto_settings = config.get("auto_settings")  # a --model auto run's, to choose again from
        data = auto_settings["data"]["data"] if auto_settings else config["data"]["data"]
        model = AUTO if auto_settings or config.get("auto") is not None else config["model_name"]
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
        if done:
            metrics = read_json(Path(a.out) / METRICS)
        elif auto_settings:  # stopped before it was scored: auto's choice has no checkpoint
            from ..data import DataConfig
            from ..forecasting.auto_run import train_auto_run
            print(f"{a.out} is a --model auto run stopped before it was scored: its choice has no checkpoint, so "
                  f"it chooses again from the start, with the run's settings")
            metrics = train_auto_run(DataConfig(**auto_settings["data"]), auto_settings["train"], a.out,
                                     seq_len=auto_settings["seq_len"], refit=refit)
        elif model == AUTO:  # a run of an earlier version, which did not record its settings
            raise SparsecastError(f"{a.out} is a --model auto run stopped before it was scored: auto's fit has no "
                                  f"checkpoint; run the same train command again")
        else:
            metrics = resume_run(a.resume)
    else:
        a.model = default_model(a)
        data, model, refit = a.data, a.model, _wants_refit(a, a.data)
        if model == AUTO:
            metrics = _train_auto(a, refit)
        else:
            dist = Distributed.from_env(a.device) if a.ddp else Distributed()
            try:
                data_cfg, frame = data_config(a)
                metrics = train_run(data_cfg, a.model, model_params(a), train_config(a, a.model), a.out, dist=dist,
                                    refit=refit, frame=frame)
            finally:
                dist.close()
            if not dist.is_main:
                return
    if model == AUTO:  # what it chose, as the run folder records it
        from ..forecasting.run_dir import CONFIG, read_json
        scored = read_json(Path(a.out) / CONFIG)["model_name"]
    else:
        scored = model
    print_test_scores(metrics, auto=model == AUTO, model_name=scored)
    print_intervals(metrics)
    print_paper(metrics)
    user_csv = _user_csv(data)
    if refit:
        from ..forecasting.final import refit_run
        scored = "the choice made on the rows before the test split" if model == AUTO else \
            "the model trained on its training split alone"
        print(f"refitting the model on every row of {data} for predict (the last 10% held out for early stopping); "
              f"the scores above are those of {scored}; if it is stopped, sparsecast train --resume {a.out} "
              f"continues it")
        final = refit_run(a.out, resume=bool(a.resume))
        print(f"run folder: {a.out} ({_shown_files(a.out)}; {final}: the refit model predict uses)")
        if user_csv:
            _say_history(final)
        return
    hint = "" if user_csv or model == "informer" else "; the paper's Informer: the same command with --model " \
        "informer (make paper: its univariate 96/48/24 setting)"
    rows = "chosen and fit on the rows before the test split" if model == AUTO else \
        "trained on the first 70% of the rows"
    later = "" if not user_csv else f"; predict forecasts with this model, {rows} (--refit fits it on every row)"
    print(f"run folder: {a.out} ({_shown_files(a.out)}){hint}{later}")
    if user_csv:
        _say_history(a.out)


def _say_history(folder) -> None:
    """What predict needs of its --input: the lookback of the model it forecasts with, in rows."""
    from ..forecasting.run_dir import CONFIG, read_json
    rows = read_json(Path(folder) / CONFIG)["data"]["seq_len"]
    print(f"predict reads the last {rows} rows of its --input (the model's lookback): give it at least that many")


def _shown_files(run_dir) -> str:
    """The run's scores and plots that its folder holds (a model that does not train has no loss curve)."""
    from ..forecasting.run_dir import FORECAST_PLOT, LOSS_PLOT, METRICS
    return ", ".join(n for n in (METRICS, FORECAST_PLOT, LOSS_PLOT) if Path(run_dir, n).is_file())


def default_model(a) -> str:
    """--model, else auto on a CSV of the user's own (as the Python API's default): there the candidates' validation
    chooses; else LongPatch, on a built-in dataset (whose protocols score one model), where model flags set its
    settings, or under --ddp (auto's fit has no distributed path)."""
    if a.model is not None:
        return a.model
    if _user_csv(a.data) and not model_params(a) and not a.ddp:
        say("model: auto, the default on a CSV of your own: it validates each candidate, then fits the chosen ones "
            "again (--model longpatch trains LongPatch alone, in less time)")
        return AUTO
    return DEFAULT_MODEL


def _train_auto(a, refit: bool) -> dict:
    """--model auto: the Python API's model="auto" chosen and fit on the rows before the test split, then scored
    (``forecasting/auto_run.py``). It takes data and training flags only."""
    from ..forecasting.auto_run import train_auto_run
    given = model_params(a)
    if given or a.ddp:
        flags = ", ".join("--" + k.replace("_", "-") for k in given) or "--ddp"
        raise SparsecastError(f"--model auto takes data and training flags only, not {flags}: it chooses among "
                              f"its candidates with their own settings (name one model with --model to set them)")
    data_cfg, _ = data_config(a)
    return train_auto_run(data_cfg, {**given_train_flags(a), **run_flags(a)}, a.out, seq_len=a.seq_len, refit=refit)


def _user_csv(data: str) -> bool:
    from ..data.datasets import BUILTIN
    return data not in BUILTIN and Path(data).is_file()


def _wants_refit(a, data: str) -> bool:
    """--refit / --no-refit, else on for a CSV of the user's own (off under --ddp)."""
    return (_user_csv(data) and not a.ddp) if a.refit is None else a.refit
