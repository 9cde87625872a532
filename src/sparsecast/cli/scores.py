"""A run's scores as ``train`` and ``evaluate`` print them."""


# A band covering less than this share of its nominal coverage on the test windows is called too narrow.
NARROW = 0.75


def print_intervals(metrics: dict) -> None:
    for band, v in (metrics["intervals"] or {"coverage": {}})["coverage"].items():
        print(f"interval {band} (fit on validation) covers {100 * v['coverage']:.1f}% of the test truth "
              f"(nominal {100 * v['nominal']:.0f}%)")
        if v["coverage"] < NARROW * v["nominal"]:
            print(f"note: the {band} band is too narrow on these test windows: it takes its width from the errors "
                  f"on held-out windows before the test split, and the test rows were harder to forecast; read it as "
                  f"a lower bound on the uncertainty (backtest --windows N shows the coverage at other origins)")


def print_paper(metrics: dict) -> None:
    paper = metrics["paper"]
    if paper:
        note = "same setting" if paper["same_setting"] else \
            f"paper setting: seq {paper['seq_len']}, label {paper['label_len']}"
        print(f"paper Informer           MSE {paper['mse']:.4f}  MAE {paper['mae']:.4f}  ({note})")


def print_test_scores(metrics: dict, auto: bool = False, model_name: str | None = None) -> None:
    """A run's test scores: normalized, in original units, and against the seasonal-naive and repeat-last baselines
    on the same windows (``auto``: a run of --model auto, which needs no hint to try it; ``model_name``: the model
    scored, auto's choice for an auto run: seasonal naive is not compared with itself)."""
    naive_run = model_name == "seasonal_naive"
    t, u = metrics["test"], metrics["test_original_units"]
    print(f"test ({metrics['test_windows']} windows)  MSE {t['mse']:.4f}  MAE {t['mae']:.4f}  (normalized)")
    print(f"test in original units   MSE {_figure(u['mse'])}  MAE {_figure(u['mae'])}")
    skill = metrics["skill"]
    naive = skill["baselines"].get("seasonal_naive")
    if naive:
        ratio, mase = skill["skill_vs_seasonal_naive"], skill["mase"]
        shown_ratio, shown_mase = (f"{v:.3f}" if v is not None else "-" for v in (ratio, mase))
        print(f"seasonal naive (season {skill['season']})  MSE {naive['mse']:.4f}  MAE {naive['mae']:.4f}; "
              f"skill (MSE / seasonal naive's, below 1 beats it) {shown_ratio}, MASE {shown_mase} (MAE over "
              f"seasonal naive's in-sample MAE on the training rows)")
        if naive_run:
            print("(the model is seasonal naive: its skill is 1 by definition)")
        elif mase is not None and ratio is not None and (mase > 1) != (ratio > 1):
            print("(skill and MASE disagree: skill divides the MSE by seasonal naive's on these test windows, MASE "
                  "the MAE by seasonal naive's on the training rows; they part where the test rows are harder or "
                  "easier to forecast than the training rows)")
        if not naive_run and ratio is not None and ratio >= 1:
            hint = "" if auto else "; try more epochs or another --seq-len, or --model auto (it chooses among " \
                "LongPatch, DLinear and seasonal naive on the rows before the test split)"
            print(f"note: on these test windows the model does not beat seasonal naive (MSE {t['mse']:.4f} against "
                  f"{naive['mse']:.4f}){hint}")
    last = skill["baselines"]["repeat_last"]
    print(f"repeat last              MSE {last['mse']:.4f}  MAE {last['mae']:.4f}")
    if last["mse"] < t["mse"]:
        print(f"note: on these test windows repeating the last value beats the model (MSE {last['mse']:.4f} against "
              f"{t['mse']:.4f})")


def _figure(value: float) -> str:
    """A score in the data's own units, which may be in the billions or the thousandths: four significant digits,
    in exponent form from 10,000 up and below 0.0001 (37,276,617,026 as 3.728e+10, 2.93834 as 2.938)."""
    return f"{value:.4g}"
