"""Printing progress lines so they appear at once, even when output goes to a log file."""

import sys


def say(*args, **kwargs) -> None:
    print(*args, **kwargs, flush=True)


def live_progress(wanted: bool) -> bool:
    """Whether to draw a live progress bar: asked for, and the output is a terminal (a log file, CI or a captured
    notebook cell would get one line per update; the loops print one line per epoch or evaluation anyway)."""
    return wanted and sys.stderr.isatty()
