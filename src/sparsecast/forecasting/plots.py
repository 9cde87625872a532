"""Pictures of a run: forecasts against the truth, and loss curves."""

from pathlib import Path

import numpy as np
import pandas as pd


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend, imported at the first plot: at import time it would add
    half a second to every command."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_forecasts(path: Path, history: np.ndarray, truth: np.ndarray, pred: np.ndarray, name: str,
                   n_windows: int = 4, band: np.ndarray | None = None, band_label: str = "interval",
                   dates: np.ndarray | None = None, starts: np.ndarray | None = None) -> None:
    """One panel per window: the history, the truth and the forecast of one channel (arrays (N, T) in units),
    with the prediction interval shaded where ``band`` (N, T, 2: lower, upper) is given. With ``dates`` (the
    split's timestamps) and ``starts`` (N,: each window's first row in them) the x axis is time, else steps."""
    if dates is not None:
        dates = pd.DatetimeIndex(dates)
        dates = (dates if dates.tz is None else dates.tz_localize(None)).to_numpy()  # local clock times on the axis
    n = min(n_windows, len(pred))
    picks = np.linspace(0, len(pred) - 1, n).astype(int)
    plt = _pyplot()
    import matplotlib.dates as mdates
    fig, axes = plt.subplots(n, 1, figsize=(9, 2.4 * n), squeeze=False)
    with_time = dates is not None and has_time_of_day(np.asarray(dates))
    for ax, i in zip(axes[:, 0], picks):
        h, p = len(history[i]), len(pred[i])
        x = np.arange(h + p) if dates is None else np.asarray(dates[int(starts[i]):int(starts[i]) + h + p])
        ax.plot(x[:h], history[i], color="0.4", lw=1, label="history")
        ax.plot(x[h:], truth[i], color="k", lw=1.2, label="truth")
        ax.plot(x[h:], pred[i], color="tab:red", lw=1.2, label="forecast")
        if band is not None:
            ax.fill_between(x[h:], band[i, :, 0], band[i, :, 1], color="tab:red", alpha=0.2, lw=0, label=band_label)
        when = "" if dates is None else f", forecast from {moment(x[h], with_time)}"
        ax.set_title(f"test window {i}{when}", fontsize=9)
        ax.set_ylabel(name)
        ax.tick_params(axis="x", labelsize=8)  # each panel its own dates
        if dates is not None:  # concise labels (the day once, then hours), which do not run into each other
            locator = mdates.AutoDateLocator(maxticks=8)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def has_time_of_day(dates: np.ndarray) -> bool:
    """Whether any of the timestamps is past midnight (sub-daily data) rather than all at midnight (daily and
    coarser)."""
    dates = dates.astype("datetime64[m]")
    return bool((dates != dates.astype("datetime64[D]")).any())


def moment(t, with_time: bool) -> str:
    """A timestamp as a title shows it: to the minute for sub-daily data (``with_time``), else the date alone."""
    return np.datetime_as_string(np.datetime64(t, "m"), unit="m" if with_time else "D").replace("T", " ")


def plot_losses(path: Path, train_loss: list[float], val_loss: list[float]) -> None:
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = np.arange(1, len(train_loss) + 1)
    ax.plot(epochs, train_loss, marker="o", label="train")
    ax.plot(epochs, val_loss, marker="o", label="validation")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
    ax.set_ylabel("MSE (normalized)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_history_forecast(path: Path, frame, forecast, column: str, n_history: int,
                          band: tuple[str, str] | None = None) -> None:
    """The last ``n_history`` rows of ``column`` and its forecast, against time; ``band`` names the forecast's
    lower and upper quantile columns to shade."""
    hist = frame.tail(n_history)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(hist["date"], hist[column], color="0.3", lw=1.2, label="history")
    ax.plot(forecast["date"], forecast[column], color="tab:red", lw=1.4, label="forecast")
    if band is not None:
        ax.fill_between(forecast["date"], forecast[band[0]], forecast[band[1]], color="tab:red", alpha=0.2, lw=0,
                        label=f"{band[0]} to {band[1]}")
    ax.axvline(hist["date"].iloc[-1], color="0.7", ls="--", lw=1)
    ax.set_ylabel(column)
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_active_queries(path: Path, active: list, lengths: list[int]) -> None:
    """ProbSparse's choice for one window: per encoder layer, which query positions (columns) each head (rows) let
    attend in full; the rest took the uniform output. ``active``: per layer a (H, n) index array (-1 = none)."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(active), 1, figsize=(9, 1.2 + 0.9 * len(active)), squeeze=False)
    for ax, idx, L, n in zip(axes[:, 0], active, lengths, range(len(active))):
        grid = np.zeros((idx.shape[0], L))
        for h, row in enumerate(idx):
            grid[h, row[row >= 0]] = 1
        ax.imshow(grid, aspect="auto", cmap="Greys", interpolation="nearest", vmin=0, vmax=1)
        ax.set_ylabel(f"layer {n + 1}\nheads", fontsize=8)
        ax.set_title(f"encoder layer {n + 1}: {int(grid.sum(1).mean())} of {L} queries active per head", fontsize=9)
    axes[-1, 0].set_xlabel("query position")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_by_horizon(path: Path, title: str, lines: dict[str, tuple[list[int], list[float]]],
                    colors: dict[str, str] | None = None) -> None:
    """Test MSE against the horizon, one line per model: ``lines`` maps a label to (horizons, MSEs), ``colors`` a
    label to its colour (the same model the same colour in every plot); a label starting with "paper" is drawn
    dashed in black (the published figures the others are held to)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, (horizons, mse) in lines.items():
        style = {"color": "k", "ls": "--"} if label.startswith("paper") else {"color": (colors or {}).get(label)}
        ax.plot(horizons, mse, marker="o", label=label, **style)
    ax.set_xscale("log")
    every = sorted({h for horizons, _ in lines.values() for h in horizons})
    ax.set_xticks(every, [str(h) for h in every])
    ax.minorticks_off()
    ax.set_xlabel("horizon (steps)")
    ax.set_ylabel("test MSE (normalized)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
