"""model="auto": from the candidates' validation scores to the weights of their forecasts.

A rule maps each candidate's validation MSE (lower is better) to a weight; the forecast is the weighted mean of
the candidates' forecasts. "choice" keeps the best alone; the others average, which is more robust when the
validation rows are few and the best candidate on them is often not the best on the next horizons
(benchmarks/results/auto_combination compares the rules on real series).
"""

import numpy as np

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

AUTO_RULE = "inverse"  # what model="auto" uses
