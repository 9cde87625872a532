"""How model="auto" should turn its candidates' validation scores into a forecast: a choice, or a weighted mean.

On the real univariate series of benchmarks/univariate.py (same series, horizons and origins), every candidate is
validated as model="auto" validates it (``Forecaster.validate``, on the rows before the first test origin only) and
fit on those rows; its forecasts of the test origins are recorded. Each rule then maps the validation scores to
weights, and its forecast (the weighted mean of the candidates') is scored against seasonal naive's on the same
origins. The rules are compared here, on this validation set of the choice; model="auto" uses the one chosen.

    python benchmarks/auto_combination.py --freqs D,W,M --out benchmarks/results/auto_combination   # resumable
    python benchmarks/auto_combination.py --freqs native --datasets ETTh1,ETTh2,WTH \
        --candidates longpatch,seasonal_naive,auto_ets,dlinear --out benchmarks/results/auto_combination/native
    python benchmarks/auto_combination.py --analyze --out benchmarks/results/auto_combination \
        --include benchmarks/results/auto_combination/native/collected.json
"""

import argparse
import json
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from sparsecast import DataError, Forecaster
from sparsecast.forecasting.auto import AUTO_MAX_WINDOWS, RULES, auto_rule, combination_weights
from sparsecast.forecasting.predict import forecast_at
from sparsecast.forecasting.run_dir import record_result
from sparsecast.training.precision import cpu_summary
from univariate import ORIGINS, series_list

CANDIDATES = ("longpatch", "seasonal_naive", "auto_ets", "auto_theta", "auto_arima", "dlinear", "repeat_last")


def settings_of(freq: str, horizon: int, threads: int) -> dict:
    return dict(target="y", features="S", pred_len=horizon, freq=freq, progress=False, threads=threads)


def entry_windows(frame, freq: str, horizon: int, old: dict, threads: int) -> int | None:
    """The held-out horizons an earlier collection validated a series' candidates on: recorded, or (entries written
    before it was) the count at which seasonal naive, which fits nothing, scores what it scored then."""
    if "windows" in old:
        return old["windows"]
    stored = old.get("validation_mse", {}).get("seasonal_naive")
    if stored is None:
        return None
    fit_part = frame.iloc[:len(frame) - ORIGINS * horizon]
    for windows in range(1, AUTO_MAX_WINDOWS + 1):
        try:
            score = Forecaster("auto", **settings_of(freq, horizon, threads)).validate(
                fit_part, ["seasonal_naive"], windows)["validation_mse"].get("seasonal_naive")
        except DataError:
            continue
        if score is not None and math.isclose(score, stored, rel_tol=1e-9):
            return windows
    return None


def collect(frame, freq: str, horizon: int, candidates, threads: int, windows: int | None = None) -> dict:
    """Validation scores and test-origin forecasts of every candidate on one series (validated on ``windows``
    held-out horizons where given: those of the candidates collected earlier)."""
    fit_part = frame.iloc[:len(frame) - ORIGINS * horizon]
    settings = settings_of(freq, horizon, threads)
    start = time.perf_counter()
    try:
        report = Forecaster("auto", **settings).validate(fit_part, candidates, windows)
    except DataError as e:  # none of these candidates fits the rows: each is recorded as skipped
        report = {"validation_mse": {}, "skipped": {n: str(e).splitlines()[0] for n in candidates},
                  "windows": windows}
    out = {"rows": len(frame), "freq": freq, "horizon": horizon, "validation_mse": report["validation_mse"],
           "windows": report["windows"], "validation_seconds": time.perf_counter() - start,
           "skipped": report["skipped"], "forecasts": {}, "seconds": {}}
    origins = [len(frame) - horizon - k * horizon for k in reversed(range(ORIGINS))]
    out["truth"] = [frame["y"].iloc[o:o + horizon].tolist() for o in origins]
    for name in candidates:
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fc = Forecaster(name, **settings)
                fc.with_intervals = False
                fc.fit(fit_part)
            pred, _ = forecast_at(fc.model, fc.series[None][0], fc._frames(frame, False)[None], origins)
        except Exception as e:  # recorded, not fatal
            out["skipped"].setdefault(name, f"{type(e).__name__}: {str(e).splitlines()[0]}")
            continue
        out["forecasts"][name] = pred[..., 0].tolist()  # (origins, horizon)
        out["seconds"][name] = time.perf_counter() - start
    return out


def rule_mse(entry: dict, rule: str, candidates) -> float | None:
    """The mean test MSE over the origins of the rule's weighted forecast; None where no candidate is scored."""
    scores = {n: v for n, v in entry["validation_mse"].items() if n in candidates and n in entry["forecasts"]}
    if not scores:
        return None
    if rule == "auto":  # what model="auto" uses on the rows the candidates were fit and validated on
        rule = auto_rule(entry["rows"] - ORIGINS * entry["horizon"])
    weights = combination_weights(scores, rule)
    pred = sum(w * np.asarray(entry["forecasts"][n]) for n, w in weights.items())
    return float(np.mean((pred - np.asarray(entry["truth"])) ** 2))


def analyze(results: dict, candidate_sets: dict) -> str:
    rows = {k: v for k, v in results.items() if "forecasts" in v and "seasonal_naive" in v["forecasts"]}
    lines = [f"{len(rows)} series; ratio = test MSE / seasonal naive's on the same origins", "",
             "| candidates | rule | beats seasonal naive | geometric-mean ratio | median ratio | "
             "sub-hourly | hourly | daily | weekly | monthly |", "|---|---|---|---|---|---|---|---|---|---|"]
    columns = {"15min": "sub-hourly", "10min": "sub-hourly", "h": "hourly", "D": "daily", "W-SUN": "weekly",
               "W": "weekly", "MS": "monthly"}  # freq -> column
    single = [(n, "single") for n in CANDIDATES]
    combos = [(s, r) for s in candidate_sets for r in (*RULES, "auto")]
    for what, rule in single + combos:
        ratios, freq_ratios = [], {}
        for v in rows.values():
            sn = float(np.mean((np.asarray(v["forecasts"]["seasonal_naive"]) - np.asarray(v["truth"])) ** 2))
            if rule == "single":
                if what not in v["forecasts"]:
                    continue
                mse = float(np.mean((np.asarray(v["forecasts"][what]) - np.asarray(v["truth"])) ** 2))
            else:
                mse = rule_mse(v, rule, candidate_sets[what])
            if mse is None or sn <= 0:
                continue
            ratios.append(max(mse / sn, 1e-12))
            freq_ratios.setdefault(columns.get(v["freq"], v["freq"]), []).append(ratios[-1])
        if not ratios:
            continue
        gm = lambda r: math.exp(statistics.fmean(math.log(x) for x in r))  # noqa: E731  (only non-empty lists)
        wins = sum(r < 1 for r in ratios)
        lines.append(f"| {what} | {rule} | {wins}/{len(ratios)} ({100 * wins / len(ratios):.0f}%) | "
                     f"{gm(ratios):.3f} | {statistics.median(ratios):.3f} | "
                     + " | ".join(f"{gm(freq_ratios[c]):.3f}" if c in freq_ratios else "-"
                                  for c in ("sub-hourly", "hourly", "daily", "weekly", "monthly")) + " |")
    return "\n".join(lines)


CANDIDATE_SETS = {
    "lp+sn+ets+theta": ("longpatch", "seasonal_naive", "auto_ets", "auto_theta"),
    "lp+ets+theta": ("longpatch", "auto_ets", "auto_theta"),
    "lp+ets+theta+arima": ("longpatch", "auto_ets", "auto_theta", "auto_arima"),
    "lp+sn+ets+theta+dlinear": ("longpatch", "seasonal_naive", "auto_ets", "auto_theta", "dlinear"),
    "lp+sn+ets+arima+dlinear": ("longpatch", "seasonal_naive", "auto_ets", "auto_arima", "dlinear"),
    "lp+sn+ets+arima+dlinear+last": ("longpatch", "seasonal_naive", "auto_ets", "auto_arima", "dlinear", "repeat_last"),
    "lp+last+ets+arima+dlinear": ("longpatch", "repeat_last", "auto_ets", "auto_arima", "dlinear"),
    "all six": CANDIDATES[:6],
}


def add_candidates(old: dict, new: dict) -> dict:
    """A series' entry as on disk (``old``, {} if none) with the candidates of ``new`` beside those it had: run
    under the results file's lock, so a collection running at the same time keeps what it added."""
    entry = {**old, **new}
    for part in ("validation_mse", "forecasts", "seconds", "skipped"):
        entry[part] = {**old.get(part, {}), **new[part]}
    if old:  # the validation of every candidate collected so far, and the earlier run's truth (the same)
        entry["validation_seconds"] = new["validation_seconds"] + old.get("validation_seconds", 0.0)
        entry["truth"] = old.get("truth", new["truth"])
    return entry


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root-path", default="../shared/data")
    p.add_argument("--freqs", default="D,W,M")
    p.add_argument("--datasets", default=None)
    p.add_argument("--candidates", default=",".join(CANDIDATES))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--analyze", action="store_true", help="only the table of rules, from what was collected")
    p.add_argument("--include", default=None, help="comma-separated collected.json files of other runs whose series "
                   "join the table (e.g. the native hourly ones)")
    p.add_argument("--out", default="benchmarks/results/auto_combination")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "collected.json"
    done = json.loads(path.read_text()) if path.is_file() else {}
    if not a.analyze:
        root = Path(a.root_path)
        if not root.is_dir():
            sys.exit(f"no data folder at {root} (see the README: the shared datasets)")
        candidates = a.candidates.split(",")
        print(f"CPU {cpu_summary()}, {a.threads} thread(s); candidates {candidates}", flush=True)
        for key, frame, freq, horizon in series_list(root, a.freqs.split(","),
                                                     a.datasets and a.datasets.split(",")):
            old = done.get(key, {})
            missing = [n for n in candidates if n not in old.get("forecasts", {}) and n not in old.get("skipped", {})]
            if frame is None or not missing:
                continue
            start = time.perf_counter()
            if old and (old["rows"], old["horizon"]) != (len(frame), horizon):
                sys.exit(f"{key}: the collection has {old['rows']} rows at horizon {old['horizon']}, the data "
                         f"{len(frame)} at {horizon}; collect it into another --out")
            windows = entry_windows(frame, freq, horizon, old, a.threads) if old else None
            new = collect(frame, freq, horizon, missing, a.threads, windows)
            done = record_result(path, key, new, merge=add_candidates)
            print(f"{key}: {len(frame)} rows, horizon {horizon}, {time.perf_counter() - start:.0f}s; seconds "
                  + ", ".join(f"{n} {s:.1f}" for n, s in done[key]["seconds"].items()), flush=True)
    included = [json.loads(Path(f).read_text()) for f in a.include.split(",")] if a.include else []
    table = analyze({k: v for part in (done, *included) for k, v in part.items()}, CANDIDATE_SETS)
    (out / "rules.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
