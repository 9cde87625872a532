"""model="auto": the candidates' validation scores, the weights of their forecasts, and the ensemble they make.

A rule maps each candidate's validation MSE (lower is better) to a weight; the forecast is the weighted mean of
the candidates' forecasts. "choice" keeps the best alone; the others average, which is more robust when the
validation rows are few and the best candidate on them is often not the best on the next horizons
(benchmarks/results/auto_combination compares the rules on real series).
"""

import dataclasses
import importlib.util
import warnings

import numpy as np
import pandas as pd

from ..console import say
from ..data.frame import select_columns
from ..errors import DataError
from ..models.ensemble import Ensemble, EnsembleConfig
from ..models.registry import AUTO_CANDIDATES, AUTO_DAILY_OR_COARSER
from ..models.statistical import STATSFORECAST
from ..timefeatures import is_subdaily
from ..training.precision import resolve_device
from ..training.trainer import model_device
from .frames import is_long, joined, source

# Horizons model="auto" holds out to validate on: 3, or on long series 10% of the rows, up to 10 horizons.
AUTO_WINDOWS, AUTO_MAX_WINDOWS, AUTO_SHARE = 3, 10, 0.1
RULES = ("choice", "inverse", "inverse2", "top2", "top3", "top2_inverse", "trimmed", "mean")
TRIM = 1.5  # "trimmed": candidates whose validation MSE is within this factor of the best one's
MIN_WEIGHT = 0.02  # a candidate with a smaller share is left out (not worth fitting) and the others renormalized


def combination_weights(scores: dict[str, float], rule: str) -> dict[str, float]:
    """Weights summing to 1 over the candidates that get any, from validation MSEs ``scores`` (name -> MSE).

    Rules: choice (the best), inverse / inverse2 (proportional to 1 / MSE or 1 / MSE^2), top2 / top3 (equal
    weights on the best two or three), top2_inverse (1 / MSE over the best two), trimmed (1 / MSE over those within
    TRIM x the best MSE), mean (equal weights on all). Shares under MIN_WEIGHT are dropped.
    """
    if not scores or not all(np.isfinite(v) for v in scores.values()):
        raise ValueError(f"combination weights need finite validation scores, got {scores}")
    if rule not in RULES:
        raise ValueError(f"unknown combination rule {rule!r}; choose one of {RULES}")
    ranked = sorted(scores, key=scores.get)
    best = max(scores[ranked[0]], 1e-300)
    if rule == "choice":
        raw = {ranked[0]: 1.0}
    elif rule in ("inverse", "inverse2"):
        power = 1 if rule == "inverse" else 2
        raw = {n: (best / max(scores[n], 1e-300)) ** power for n in ranked}
    elif rule in ("top2", "top3"):
        raw = {n: 1.0 for n in ranked[:int(rule[-1])]}
    elif rule == "top2_inverse":
        raw = {n: best / max(scores[n], 1e-300) for n in ranked[:2]}
    elif rule == "trimmed":
        raw = {n: best / max(scores[n], 1e-300) for n in ranked if scores[n] <= TRIM * best}
    else:
        raw = {n: 1.0 for n in ranked}
    total = sum(raw.values())
    kept = {n: w for n, w in raw.items() if w / total >= MIN_WEIGHT}  # the best always stays
    return {n: w / sum(kept.values()) for n, w in kept.items()}


# What model="auto" uses: AUTO_RULE, and AUTO_RULE_LONG where the shortest series has LONG_ROWS rows or more to fit
# and validate on. On the validation set of real series (benchmarks/results/auto_combination), averaging by 1 / MSE
# wins on the daily, weekly and monthly series (105-7,588 rows: geometric-mean MSE 0.520 x seasonal naive's, the
# best-validated alone 0.553), and keeping the best alone wins on the hourly ones (17,420-35,064 rows: 0.553 against
# 0.590), where the validation ranking holds: a candidate 1.5-2x worse there is worse on the next horizons too.
AUTO_RULE, AUTO_RULE_LONG, LONG_ROWS = "inverse", "choice", 10_000


def auto_rule(rows: int) -> str:
    """The combination rule of model='auto' for series whose shortest has ``rows`` rows (all the rows given to fit)."""
    return AUTO_RULE_LONG if rows >= LONG_ROWS else AUTO_RULE


def choose(fc, df: pd.DataFrame) -> dict:
    """model='auto': the candidates' validation scores (``validate``) and their weights (``auto_rule``)."""
    names = [c for c in AUTO_CANDIDATES if c not in STATSFORECAST or importlib.util.find_spec("statsforecast")]
    report = validate(fc, df, names)
    scores = report["validation_mse"]
    rule = auto_rule(report["rows"])
    weights = combination_weights(scores, rule)
    chosen = min(scores, key=scores.get)
    result = describe_weights(weights) if len(weights) > 1 else chosen
    say(f"auto: validation MSE on the last {report['windows']} horizon(s) of {fc.data_cfg.pred_len} steps, "
        f"fit on the rows before them (geometric mean over {report['series']} series): "
        + ", ".join(f"{n} {v:.4g}" for n, v in sorted(scores.items(), key=lambda kv: kv[1]))
        + f" -> {result} (rule {rule})" + "".join(f"; {n} skipped: {why}" for n, why in report["skipped"].items()))
    return {"chosen": chosen, "weights": weights, "rule": rule,
            **{k: v for k, v in report.items() if k != "series"}}


def describe_weights(weights: dict) -> str:
    """One line of a choice's weights: "longpatch x 0.53, seasonal_naive x 0.47"."""
    return ", ".join(f"{n} x {w:.2f}" for n, w in weights.items())


def keep(choice: dict) -> dict:
    """A choice made already (``choose``'s report, as a run's config.json keeps it), to fit its weighted candidates
    without validating them again: ``train --model auto`` chooses before it replaces the run folder, and a scored
    run's refit on every row fits the choice it scored."""
    kept = {**choice, "weights": dict(choice["weights"]), "skipped": dict(choice.get("skipped", {}))}
    if len(kept["weights"]) == 1:  # the one fit: the best validated may have failed on all the rows and been dropped
        kept["chosen"] = next(iter(kept["weights"]))
    return kept


def fit_members(fc, df: pd.DataFrame, report: dict) -> dict:
    """The weighted candidates of model='auto', each fit on all of ``df`` as on its own (no intervals: the
    ensemble's own are fit on its forecasts). One that fails there is dropped and the others' weights (in
    ``report``) renormalized."""
    members = {}
    for name in report["weights"]:
        say(f"auto: fitting {name} on all {len(df)} rows given (weight {report['weights'][name]:.2f})")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                members[name] = type(fc)(name, **fc.kwargs)
                members[name].with_intervals = members[name].notes = False
                members[name].fit(df)
        except (DataError, ValueError) as e:
            members.pop(name)
            report["skipped"][name] = f"validated, but failed on all the rows: {str(e).splitlines()[0]}"
            say(f"auto: {name} left out ({report['skipped'][name]}); the others' weights renormalized")
    if not members:
        raise DataError(f"model='auto': no weighted candidate could be fit on all the rows: {report['skipped']}")
    total = sum(report["weights"][n] for n in members)
    report["weights"] = {n: report["weights"][n] / total for n in members}
    return members


def build_ensemble(fc, members: dict, prepared) -> Ensemble:
    """The weighted mean of the fitted ``members``, on this forecaster's lookback (the longest of theirs). All
    were scaled on the same training rows: the fit split's border does not depend on the lookback."""
    weights = fc.auto_report["weights"]
    config = EnsembleConfig(members=tuple({"model_name": n, "model": fc.model.config.to_dict(),
                                           "series": fc.series_cfg.to_dict(), "weight": weights[n]}
                                          for n, fc in members.items()),
                            enc_in=len(prepared.columns), c_out=len(prepared.target_columns),
                            seq_len=fc.data_cfg.seq_len, pred_len=fc.data_cfg.pred_len)
    models = [fc.model for fc in members.values()]
    device = max((model_device(m) for m in models), key=lambda d: d.type != "cpu")  # where the trained ones are
    return Ensemble(config, models).to(device)  # members fit without weights (on the CPU) join them


def validate(fc, df: pd.DataFrame, names, windows: int | None = None) -> dict:
    """Each model in ``names`` is fit on every series but its last horizons (``AUTO_WINDOWS``; on long series
    ``AUTO_SHARE`` of the shortest series' rows, up to ``AUTO_MAX_WINDOWS``) and scored on forecasts from origins
    a third of a horizon apart within them; its score is the geometric-mean MSE over the series. Where some
    models cannot be fit on the rows left (short series), fewer horizons are held out: the number that scores the
    most models (the most horizons among equals). Models of ``AUTO_DAILY_OR_COARSER`` are left out of sub-daily
    data (skipped, with why). Only ``df`` takes part. ``windows`` holds out that many horizons instead of choosing
    (to score a model on the rows other models were scored on).

    Returns:
        validation_mse (name -> score), windows (the horizons held out), series (how many), rows (the shortest
        series'), skipped (name -> why it could not be scored).
    """
    resolve_device(fc.train_cfg.device)  # a GPU that is not there stops here, not as every trained candidate's skip
    long = is_long(df)
    if long:
        fc.data_cfg = dataclasses.replace(fc.data_cfg, features="S", target="y", date_col="ds")
    frames = fc._frames(df, long)
    for uid, frame in frames.items():  # the user's mistakes (a wrong target...) stop here, not as skips
        select_columns(frame, fc.data_cfg.target, fc.data_cfg.features, source(uid),
                       allow_missing=fc.data_cfg.fill is not None)
    _, _, freq = fc._shortest(frames)
    left_out = {n: f"left out of sub-daily data ({freq}): {AUTO_DAILY_OR_COARSER[n]}"
                for n in names if n in AUTO_DAILY_OR_COARSER and is_subdaily(freq)}
    names = [n for n in names if n not in left_out]
    P = fc.data_cfg.pred_len
    stride = max(1, P // 3)  # origins a third of a horizon apart: three per held-out horizon
    kwargs = {**fc.kwargs, **({} if long else {"date_col": "date"})}  # the frames' own date column
    whole, shortest = joined(frames, long), min(len(f) for f in frames.values())
    best = None  # (windows, scores, skipped) of the held-out length that scores the most names
    most = max(AUTO_WINDOWS, min(AUTO_MAX_WINDOWS, int(AUTO_SHARE * shortest) // P))
    tried = [windows] if windows else sorted({most, *range(1, AUTO_WINDOWS + 1)}, reverse=True)
    for windows in tried:
        if shortest <= windows * P:  # nothing left to fit on
            continue
        part = joined({uid: f.iloc[:len(f) - windows * P] for uid, f in frames.items()}, long)
        scores, skipped = {}, {}
        for name in names:
            say(f"auto: scoring {name}, fit on the rows before the last {windows} horizon(s)")  # heads its epochs
            try:
                with warnings.catch_warnings():  # a candidate's own notes (no intervals...) are not the user's
                    warnings.simplefilter("ignore")
                    candidate = type(fc)(name, **kwargs)
                    candidate.with_intervals = candidate.notes = False  # the choice needs point forecasts only
                    candidate.data_name = f"the data before the last {windows} horizon(s)"
                    candidate.fit(part)
                    candidate.data_name = None  # the backtest reads every row
                result = candidate.backtest(whole, windows=((windows - 1) * P) // stride + 1,
                                            stride=stride)  # every origin inside the held-out rows
            except (DataError, ValueError) as e:
                skipped[name] = str(e).splitlines()[0]
                continue
            mse = result.groupby("unique_id")["mse"].mean() if long else result["mse"].mean()
            score = float(np.exp(np.mean(np.log(np.maximum(mse, 1e-300)))))
            if not np.isfinite(score):  # a diverged fit: no weight
                skipped[name] = f"validation MSE is {score}"
                continue
            scores[name] = score
        if best is None or len(scores) > len(best[1]) or not best[1]:  # none scored yet: say why on the most rows
            best = (windows, scores, skipped)
        if len(scores) == len(names):
            break
    if best is None:
        raise DataError(f"model='auto' validates on the last horizon of {P} steps and fits on the rows before it, "
                        f"but {'the shortest series' if len(frames) > 1 else fc._series_name(None)} has {shortest} "
                        f"rows: give a shorter horizon (--pred-len, Python: pred_len=) or more rows")
    windows, scores, skipped = best
    skipped = {**left_out, **skipped}
    if not scores:
        why = "; ".join(f"{n}: {reason.split('; give ')[0]}" for n, reason in skipped.items())  # one remedy, below
        raise DataError(f"model='auto' could not validate any candidate: it held out the last {windows} horizon(s) "
                        f"of {P} steps and fit each on the {shortest - windows * P} rows before them ({why}); give "
                        f"more rows or a shorter horizon (--pred-len, Python: pred_len=), or name one model")
    return {"validation_mse": scores, "windows": windows, "series": len(frames), "rows": shortest, "skipped": skipped}
