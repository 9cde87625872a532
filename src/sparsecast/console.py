"""Printing progress lines so they appear at once, even when output goes to a log file."""


def say(*args, **kwargs) -> None:
    print(*args, **kwargs, flush=True)
