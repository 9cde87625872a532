"""Real univariate series from ../shared/data, each scored by a backtest over its last origins: model="auto" against
the models it chooses from and seasonal naive.

Series: every numeric column of each file, at its native frequency and resampled (means) to daily, weekly and
monthly where that is coarser than the native one. ETTm1/ETTm2 are left out of the resampled sets: their daily,
weekly and monthly means are those of ETTh1/ETTh2 (the same transformers, sampled every 15 minutes instead of every
hour). Horizon: one season of the frequency (24 for hourly, 7 for daily, 52 for weekly, 12 for monthly), or a tenth
of the series when that is shorter; series under MIN_ROWS rows are skipped. Protocol per series: ORIGINS
forecasts, one horizon apart, the last ending at the series' end; every model is fit on the rows before the first
origin (its own validation, and auto's choice, come from those rows only) and forecasts each origin from the rows
before it. Score: the mean MSE over the origins, and its ratio to seasonal naive's on the same origins.

    python benchmarks/univariate.py --freqs D,W,M --out benchmarks/results/univariate   # resumable

A model may carry settings, as in the LTSF table: ``--models "informer:revin=true,d_model=128,seasonal_naive"`` scores
Forecaster("informer", revin=True, d_model=128) under the key "informer:revin=true,d_model=128".
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
import pandas as pd

from sparsecast import Forecaster
from sparsecast.cli.tables import split_models
from sparsecast.data import read_table
from sparsecast.data.datasets import regular_frame
from sparsecast.forecasting.ltsf import RECIPES, parse_overrides, parse_variant
from sparsecast.forecasting.run_dir import record_result
from sparsecast.timefeatures import season_length
from sparsecast.training.precision import cpu_summary

FILES = {"ETTh1": "h", "ETTh2": "h", "ETTm1": "15min", "ETTm2": "15min", "WTH": "h", "weather": "10min",
         "exchange_rate": "D", "national_illness": "W"}
RESAMPLED_FROM = ("ETTh1", "ETTh2", "WTH", "weather", "exchange_rate", "national_illness")
RESAMPLE = {"D": "D", "W": "W-SUN", "M": "MS"}
ORDER = ["native", "D", "W", "M"]  # coarser to the right
NATIVE_RANK = {"h": 0, "15min": 0, "10min": 0, "D": 1, "W": 2}
MIN_ROWS = 60
ORIGINS = 3
# Native series with missing timestamps, filled by time interpolation (and repeated rows dropped) before they are
# cut: weather.csv misses nine 10-minute rows and repeats some exactly, which a Forecaster refuses unfilled.
FILL_NATIVE = {"weather"}
MODELS = ("auto", "longpatch", "auto_ets", "auto_arima", "auto_theta", "dlinear", "seasonal_naive")


def model_settings(spec: str) -> tuple[str, dict]:
    """"informer:revin=true,d_model=128" -> ("informer", {"revin": True, "d_model": 128}); "auto" -> ("auto", {});
    "auto:train_on_val=true" -> ("auto", {"train_on_val": True}) (auto takes data and training settings)."""
    if spec.partition(":")[0] == "auto":
        return "auto", parse_overrides(spec)
    _, _, overrides = parse_variant(spec)
    return spec.partition(":")[0], overrides


def is_model(key: str) -> bool:
    """Whether a key of a series' results is a model run (not an earlier pass kept beside, such as auto_3h)."""
    return key.partition(":")[0] in ("auto", *RECIPES)


def series_list(root: Path, freqs: list[str], datasets: list[str] | None):
    """(name, frame with date / y, freq, horizon) for every series of the protocol, or a skip reason."""
    for name, native in FILES.items():
        if datasets and name not in datasets or not (root / f"{name}.csv").is_file():
            continue
        table = read_table(root / f"{name}.csv", "date")
        for column in [c for c in table.columns if c != "date"]:
            for freq in freqs:
                if freq == "native":
                    frame, f = table[["date", column]], native
                    if name in FILL_NATIVE:  # the rows a user would fill (fill="interpolate") before forecasting
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            frame = regular_frame(frame.drop_duplicates("date"), f, "interpolate", f"{name}.csv")
                else:
                    if name not in RESAMPLED_FROM or ORDER.index(freq) <= NATIVE_RANK[native]:
                        continue
                    frame = table.set_index("date")[[column]].resample(RESAMPLE[freq]).mean().reset_index()
                    f = RESAMPLE[freq]
                frame = frame.rename(columns={column: "y"}).dropna().reset_index(drop=True)
                horizon = min(season_length(f), len(frame) // 10)
                key = f"{name}/{column}/{freq}"
                if len(frame) < MIN_ROWS or horizon < 1:
                    yield key, None, f, f"{len(frame)} rows (< {MIN_ROWS})"
                else:
                    yield key, frame, f, horizon


# neuralforecast's models as the issue tried them on a user's series: input 3 horizons, 1,000 steps, robust scaler,
# seed 0 (no validation split: a short series has none to spare).
NF_UNIVARIATE = {"max_steps": 1000, "scaler_type": "robust", "random_seed": 0}


def score_peer(name: str, frame: pd.DataFrame, freq: str, horizon: int, threads: int) -> dict:
    """neuralforecast's model ``name`` (nf_patchtst -> PatchTST) fit on the rows before the first origin, forecasting
    every origin from the rows before it; the mean MSE over the origins."""
    import torch
    from neuralforecast import NeuralForecast, models

    torch.set_num_threads(threads)
    long = frame.rename(columns={"date": "ds"}).assign(unique_id="series")[["unique_id", "ds", "y"]]
    origins = [len(frame) - horizon - k * horizon for k in reversed(range(ORIGINS))]
    model = getattr(models, RECIPES[name].model)(
        h=horizon, input_size=3 * horizon, enable_progress_bar=False, enable_model_summary=False, logger=False,
        accelerator="cpu", **NF_UNIVARIATE)
    nf = NeuralForecast(models=[model], freq=freq)
    nf.fit(long.iloc[:origins[0]])
    errors = []
    for origin in origins:
        pred = nf.predict(df=long.iloc[:origin])[type(model).__name__].to_numpy()
        errors.append(float(np.mean((pred - frame["y"].to_numpy()[origin:origin + horizon]) ** 2)))
    return {"mse": float(np.mean(errors)), "settings": {"input_size": 3 * horizon, **NF_UNIVARIATE}}


def score_series(frame: pd.DataFrame, freq: str, horizon: int, models, threads: int,
                 bands: bool = True) -> dict:
    fit_part = frame.iloc[:len(frame) - ORIGINS * horizon]
    out = {"rows": len(frame), "freq": freq, "horizon": horizon}
    for model in models:
        start = time.perf_counter()
        name, settings = model_settings(model)
        if name.startswith("nf_"):
            try:
                out[model] = {**score_peer(name, frame, freq, horizon, threads),
                              "seconds": time.perf_counter() - start}
            except Exception as e:  # noqa: BLE001 (recorded, not fatal)
                out[model] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}
            continue
        try:
            fc = Forecaster(name, target="y", features="S", pred_len=horizon, freq=freq, progress=False,
                            threads=threads, **settings, **({} if bands else {"quantiles": ()})).fit(fit_part)
            bt = fc.backtest(frame, windows=ORIGINS, stride=horizon)
        except Exception as e:  # a model that cannot fit this series is recorded, not fatal
            out[model] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}
            continue
        out[model] = {"mse": float(bt["mse"].mean()), "seconds": time.perf_counter() - start,
                      "coverage": float(bt["coverage_0.1-0.9"].mean()) if "coverage_0.1-0.9" in bt else None,
                      **({"pinball": float(bt["pinball"].mean())} if "pinball" in bt else {}),
                      **({"chosen": fc.auto_report["chosen"], "weights": fc.auto_report["weights"],
                          "validation_mse": fc.auto_report["validation_mse"]} if name == "auto" else {})}
        if "seasonal_naive_mse" in bt:
            out["seasonal_naive_backtest_mse"] = float(bt["seasonal_naive_mse"].mean())
    return out


def _ratio_table(rows: dict, models) -> list[str]:
    lines = ["| model | series | beats seasonal naive | geometric-mean ratio | median ratio | mean 80% coverage |",
             "|---|---|---|---|---|---|"]
    for model in models:
        ratios = [v[model]["mse"] / v["seasonal_naive"]["mse"] for v in rows.values() if "mse" in v.get(model, {})]
        cover = [v[model]["coverage"] for v in rows.values() if v.get(model, {}).get("coverage") is not None]
        if not ratios:
            continue
        gm = math.exp(statistics.fmean(math.log(max(r, 1e-12)) for r in ratios))
        wins = sum(r < 1 for r in ratios)
        coverage = f"{statistics.fmean(cover):.2f}" if cover else "-"
        lines.append(f"| {model} | {len(ratios)} | {wins} ({100 * wins / len(ratios):.0f}%) | {gm:.3f} | "
                     f"{statistics.median(ratios):.3f} | {coverage} |")
    return lines


def split_seed(key: str) -> tuple[str, int]:
    """"informer:revin=true,seed=2" -> ("informer:revin=true", 2); a key without a seed setting ran at seed 0 (the
    training default)."""
    name, _, rest = key.partition(":")
    parts = [p for p in rest.split(",") if p]
    seeds = [int(p.partition("=")[2]) for p in parts if p.startswith("seed=")]
    rest = ",".join(p for p in parts if not p.startswith("seed="))
    return (f"{name}:{rest}" if rest else name), (seeds[0] if seeds else 0)


def add_seed_means(rows: dict, models) -> list[str]:
    """For a model run at several seeds (keys that differ only in ``seed=``), a row of its own: on every series where
    all those seeds ran, the mean of their MSEs. Adds that entry to each such row of ``rows``; returns the names."""
    groups: dict[str, dict[int, str]] = {}
    for model in models:
        base, seed = split_seed(model)
        groups.setdefault(base, {})[seed] = model
    names = []
    for base, by_seed in groups.items():
        if len(by_seed) < 2:
            continue
        name = f"{base} (mean of seeds {', '.join(map(str, sorted(by_seed)))})"
        for v in rows.values():
            if all("mse" in v.get(m, {}) for m in by_seed.values()):
                v[name] = {"mse": statistics.fmean(v[m]["mse"] for m in by_seed.values())}
        names.append(name)
    return names


def summary(results: dict, models) -> str:
    rows = {k: dict(v) for k, v in results.items() if isinstance(v, dict) and "seasonal_naive" in v
            and "mse" in v["seasonal_naive"] and v["seasonal_naive"]["mse"] > 0}
    models = [*models, *add_seed_means(rows, models)]
    lines = [f"{len(rows)} series scored; ratio = model MSE / seasonal naive MSE on the same origins", "",
             *_ratio_table(rows, models)]
    shown = set()
    for partial in models:  # a model run on a subsample: every model on the same series
        subset = {k: v for k, v in rows.items() if "mse" in v.get(partial, {})}
        if 0 < len(subset) < len(rows) and frozenset(subset) not in shown:
            shown.add(frozenset(subset))
            lines += ["", f"On the {len(subset)} series {partial} ran (every model on the same series):", "",
                      *_ratio_table(subset, models)]
    chosen = [v["auto"]["chosen"] for v in rows.values() if "chosen" in v.get("auto", {})]
    if chosen:
        lines += ["", "auto's best-validated candidate: " + ", ".join(f"{m} {chosen.count(m)}"
                                                                     for m in sorted(set(chosen)))]
    weights = [v["auto"]["weights"] for v in rows.values() if "weights" in v.get("auto", {})]
    if weights:
        names = sorted({n for w in weights for n in w})
        lines += ["auto's mean weight per candidate: " + ", ".join(
            f"{n} {statistics.fmean(w.get(n, 0) for w in weights):.2f}" for n in names)
            + f"; a single candidate on {sum(len(w) == 1 for w in weights)} series"]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root-path", default="../shared/data")
    p.add_argument("--freqs", default="D,W,M", help="native, D, W, M (comma-separated)")
    p.add_argument("--datasets", default=None, help="comma-separated file names (default: all)")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--every", default="1", help="N or N:K, a systematic subsample: the series whose place in the "
                   "list (every frequency's, in order) is K modulo N (default K 0): for models too slow for all")
    p.add_argument("--no-bands", action="store_true",
                   help="no prediction intervals (a statistical model fits them on 200 more windows: AutoARIMA's "
                        "take minutes per series); the MSE is the same")
    p.add_argument("--out", default="benchmarks/results/univariate")
    a = p.parse_args()
    root = Path(a.root_path)
    if not root.is_dir():
        sys.exit(f"no data folder at {root} (see the README: the shared datasets)")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "univariate.json"
    models = split_models(a.models)
    print(f"CPU {cpu_summary()}, {a.threads} thread(s); models {models}; {ORIGINS} origins per series", flush=True)
    done = json.loads(path.read_text()) if path.is_file() else {}
    every, _, first = a.every.partition(":")
    place = -1  # among the series that can be scored
    for key, frame, freq, horizon in series_list(root, a.freqs.split(","), a.datasets and a.datasets.split(",")):
        place += frame is not None
        if place % int(every) != int(first or 0):
            continue
        old = done.get(key, {})
        missing = [m for m in models if m not in old]
        if frame is None:
            if key not in done:
                record_result(path, key, {"skipped": horizon})
            continue
        if not missing:
            continue
        start = time.perf_counter()
        # beside the models of earlier runs and of other processes running on the same series meanwhile
        done = record_result(path, key, score_series(frame, freq, horizon, missing, a.threads, not a.no_bands),
                             merge=True)
        result = done[key]
        sn = result.get("seasonal_naive", {}).get("mse")
        print(f"{key}: {len(frame)} rows, horizon {horizon}, {time.perf_counter() - start:.0f}s; "
              + ", ".join(f"{m} {result[m]['mse'] / sn:.3f}" if sn and "mse" in result[m] else f"{m} -"
                          for m in models)
              + (f" (auto: {result['auto']['weights']})" if "weights" in result.get("auto", {}) else ""),
              flush=True)
    others = sorted({m for v in done.values() if isinstance(v, dict) for m in v if is_model(m)} - set(MODELS))
    table = summary(done, [*MODELS, *others])  # every model run on these series, not this run's alone
    (out / "univariate.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
