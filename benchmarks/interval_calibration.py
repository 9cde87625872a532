"""How a prediction band's width should follow each window: the coverage and pinball loss of the 10-90% band under
several window scales, on the LTSF datasets, with a model's held-out errors as ``forecasting/intervals.py`` fits them.

The band is q_a = y_hat + offset_a * s, the offsets being the a-quantiles of the scaled errors (y - y_hat) / s of the
calibration windows (split-conformal correction included). What s is decides where the band is wide. Candidates, each
a function of the window's lookback x of the forecast channel:

    std       x's std over the whole lookback (what intervals.py used to the thirtieth session)
    std_h     x's std over the lookback's last pred_len steps
    diff      the mean |x_t - x_{t-1}|: the step-to-step noise
    sdiff     the mean |x_t - x_{t-m}| over the lookback, m the data's season: the seasonal naive's in-sample error
    sqrt_std  sqrt(std): half way between std and a constant
    const     1: the same width for every window (plain split conformal)
    sqrt_sdiff  sqrt(sdiff)
    <rule>_blocks  the rule with split conformal's correction for n / P windows (the non-overlapping horizons)

Each scale is floored at 0.1 times its median over the calibration windows (intervals.py's rule to the thirtieth
session), so that a flat lookback still gets a band; the ``_meanfloor<share>`` variants take that share of the mean
instead, which stays above zero on a channel whose lookbacks are mostly flat (weather's rain: 76% of its lookbacks
are all zeros, so its median std is 0 and the floor 1e-6).

Two checks per dataset, neither reading the test split for a choice:
    within validation: offsets fit on the first half of the validation windows, scored on the second half;
    test (scored once): offsets fit on every validation window, scored on every test window.

The model is LongPatch's fitted start (what early stopping keeps in most LTSF cells; no training, so a dataset
takes seconds to minutes) and seasonal naive. Coverage is the share of truth inside the band; the pinball loss is
the mean over the three levels, on the normalized scale (lower is better, and it rewards a narrow band that covers).

    python benchmarks/interval_calibration.py --data ETTh1,ETTh2,ETTm1,ETTm2,weather,exchange_rate,national_illness
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from sparsecast.data import prepare_data
from sparsecast.forecasting import ltsf
from sparsecast.forecasting.experiment import build_forecaster
from sparsecast.timefeatures import season_length
from sparsecast.training.metrics import QUANTILES, pinball_loss
from sparsecast.training.precision import cpu_summary
from sparsecast.training.trainer import TrainConfig, predict

FLOOR = 0.1  # intervals.py's floor to the thirtieth session: a tenth of the median scale
BASES = ("std", "std_h", "diff", "sdiff", "const")
# name -> (base scale, power, the calibration windows' statistic the floor is a share of, that share)
RULES = {"std": ("std", 1.0, "median", FLOOR), "std_h": ("std_h", 1.0, "median", FLOOR),
         "diff": ("diff", 1.0, "median", FLOOR), "sdiff": ("sdiff", 1.0, "median", FLOOR),
         "sqrt_std": ("std", 0.5, "median", FLOOR), "const": ("const", 1.0, "median", FLOOR),
         "sqrt_sdiff": ("sdiff", 0.5, "median", FLOOR),
         **{f"std_meanfloor{share:g}": ("std", 1.0, "mean", share) for share in (0.1, 0.3, 0.5)},
         **{f"sqrt_std_meanfloor{share:g}": ("std", 0.5, "mean", share) for share in (0.1, 0.3, 0.5, 1.0)}}
# Rules whose split-conformal correction counts the non-overlapping horizons of the calibration windows, not the
# windows (overlapping windows share their truth: n windows of horizon P hold about n / P independent errors per step)
BLOCKS = {"sqrt_std_meanfloor0.5_blocks": "sqrt_std_meanfloor0.5", "const_blocks": "const"}
SCALES = (*RULES, *BLOCKS)
HORIZON = {"national_illness": 24}


def window_scales(x: np.ndarray, pred_len: int, season: int) -> np.ndarray:
    """Every base scale of each window's lookback. Shape: (N, L, C) -> (N, B, C), B = len(BASES)."""
    std = x.std(axis=1)
    m = season if 0 < season < x.shape[1] else 1
    out = {"std": std, "std_h": x[:, -pred_len:].std(axis=1), "diff": np.abs(np.diff(x, axis=1)).mean(axis=1),
           "sdiff": np.abs(x[:, m:] - x[:, :-m]).mean(axis=1), "const": np.ones_like(std)}
    return np.stack([out[k] for k in BASES], axis=1)


def rule_scale(bases: np.ndarray, rule: str) -> np.ndarray:
    """The scale (N, C) of ``rule`` from the base scales (N, B, C)."""
    base, power, _, _ = RULES[BLOCKS.get(rule, rule)]
    return bases[:, BASES.index(base)] ** power


def band_scores(cal: tuple, ev: tuple, rule: str) -> dict:
    """Fit offsets on ``cal`` = (pred, truth, base scales) under ``rule``, score on ``ev``: coverage of the 10-90%
    band overall and per channel, and the mean pinball loss of the three levels."""
    (p0, t0, s0), (p1, t1, s1) = cal, ev
    scale0, scale1 = rule_scale(s0, rule), rule_scale(s1, rule)  # (N, C)
    _, _, stat, share = RULES[BLOCKS.get(rule, rule)]
    floor = np.maximum(share * (np.median if stat == "median" else np.mean)(scale0, axis=0), 1e-6)
    errors = (t0 - p0) / np.maximum(scale0, floor)[:, None, :]
    P = errors.shape[1]  # as intervals.fit_intervals counts the horizons N windows span
    n = max(1, (len(errors) + P - 1) // P) if rule in BLOCKS else len(errors)
    levels = np.asarray(QUANTILES)
    offsets = np.moveaxis(np.quantile(errors, np.clip(0.5 + (levels - 0.5) * (n + 1) / n, 0, 1), axis=0), 0, -1)
    q = p1[..., None] + offsets[None] * np.maximum(scale1, floor)[:, None, :, None]  # (N, P, C, Q)
    inside = (t1 >= q[..., 0]) & (t1 <= q[..., -1])  # (N, P, C)
    per_channel = inside.mean(axis=(0, 1))
    return {"coverage": float(inside.mean()), "worst_channel": float(per_channel.min()),
            "channel_gap": float(np.abs(per_channel - 0.8).mean()), "pinball": float(pinball_loss(q, t1, QUANTILES)),
            "width": float((q[..., -1] - q[..., 0]).mean())}


def held_out(model, prepared, split: str, pred_len: int, season: int):
    """Forecasts, truth (N, P, C_out) and every candidate scale (N, S, C_out) of a split's windows."""
    c_out = len(prepared.target_columns)
    return predict(model, prepared.splits[split].loader(512),
                   extra=lambda b: window_scales(b.x[..., -c_out:].numpy(), pred_len, season))


def run(data: str, root: str, model_name: str, cache: Path | None = None) -> dict:
    pred_len = HORIZON.get(data, 96)
    saved = cache / f"{data}_{model_name}.npz" if cache else None
    if saved and saved.is_file():  # the held-out forecasts of an earlier run: rules compared without refitting
        z = np.load(saved)
        val, test, meta = tuple(z[f"val{i}"] for i in range(3)), tuple(z[f"test{i}"] for i in range(3)), z["meta"]
        return scores(val, test, *(int(v) for v in meta))
    label, recipe, overrides = ltsf.parse_variant(model_name)
    data_cfg, settings, _ = ltsf.cell_setup(data, recipe, overrides, pred_len, root, TrainConfig(), 0)
    prepared = prepare_data(data_cfg)
    model, _, _ = build_forecaster(model_name, settings, data_cfg, prepared)
    if hasattr(model, "init_from_data"):
        model.init_from_data(prepared.splits["train"].loader(256), prepared.splits["val"].loader(256))
    season = season_length(prepared.freq, None)
    val = held_out(model, prepared, "val", pred_len, season)
    test = held_out(model, prepared, "test", pred_len, season)
    if saved:
        np.savez(saved, **{f"val{i}": a for i, a in enumerate(val)}, **{f"test{i}": a for i, a in enumerate(test)},
                 meta=np.array([data_cfg.seq_len, pred_len, season]))
    return scores(val, test, data_cfg.seq_len, pred_len, season)


def scores(val: tuple, test: tuple, seq_len: int, pred_len: int, season: int) -> dict:
    """Every rule's band on both checks, from the held-out (forecasts, truth, base scales) of both splits."""
    half = len(val[0]) // 2
    first, second = (tuple(a[:half] for a in val), tuple(a[half + pred_len:] for a in val))  # no shared truth
    return {"seq_len": seq_len, "pred_len": pred_len, "season": season,
            "windows": {"val": len(val[0]), "test": len(test[0])},
            "within_val": {s: band_scores(first, second, s) for s in SCALES},
            "test": {s: band_scores(val, test, s) for s in SCALES}}


def summary(results: dict) -> str:
    """A markdown table per check: each scale's pinball loss over the best scale's (geometric mean over the
    dataset / model pairs, and the worst pair), and its coverage's mean distance from 80%."""
    keys = [k for k in results if "/" in k]
    scales = [s for s in SCALES if all(s in results[k]["test"] for k in keys)]
    lines = []
    for check in ("within_val", "test"):
        lines += [f"\n{check} ({len(keys)} dataset / model pairs)\n",
                  "| scale | pinball / best (geometric mean) | worst pair | mean coverage | mean abs(coverage - 0.8) |",
                  "|---|---|---|---|---|"]
        for s in scales:
            ratios = [results[k][check][s]["pinball"] / min(results[k][check][t]["pinball"] for t in scales)
                      for k in keys]
            cover = [results[k][check][s]["coverage"] for k in keys]
            lines.append(f"| {s} | {np.exp(np.mean(np.log(ratios))):.3f} | {max(ratios):.2f} | {np.mean(cover):.3f} "
                         f"| {np.mean(np.abs(np.asarray(cover) - 0.8)):.3f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="ETTh1,ETTh2,ETTm1,ETTm2,weather,exchange_rate,national_illness")
    ap.add_argument("--models", default="longpatch,seasonal_naive")
    ap.add_argument("--root-path", default="../shared/data")
    ap.add_argument("--out", default="benchmarks/results/intervals")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--summary", action="store_true", help="print the tables of the recorded results and stop")
    ap.add_argument("--cache", default="", help="a folder for each run's held-out forecasts (rules compared again "
                                                "without refitting)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "calibration.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    if args.summary:
        print(summary(results))
        return
    results["cpu"] = cpu_summary()
    for model_name in args.models.split(","):
        for data in args.data.split(","):
            key = f"{data}/{model_name}"
            if key in results:
                continue
            if not (Path(args.root_path) / f"{data}.csv").is_file():
                print(f"{key}: skipped ({data}.csv is not in {args.root_path})")
                continue
            start = time.perf_counter()
            cache = Path(args.cache) if args.cache else None
            if cache:
                cache.mkdir(parents=True, exist_ok=True)
            results[key] = {**run(data, args.root_path, model_name, cache), "seconds": time.perf_counter() - start}
            path.write_text(json.dumps(results, indent=1))
            r = results[key]
            print(f"{key} ({r['seconds']:.0f} s): " + ", ".join(
                f"{s} {r['within_val'][s]['coverage']:.2f}/{r['test'][s]['coverage']:.2f}"
                f" pb {r['within_val'][s]['pinball']:.4f}/{r['test'][s]['pinball']:.4f}" for s in SCALES), flush=True)


if __name__ == "__main__":
    main()
