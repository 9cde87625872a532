"""Small real-looking CSVs for tests, and a torch thread count held for a block."""

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def write_csv(path: Path, n: int = 400, freq: str = "h", columns=("a", "b", "OT"), seed: int = 0, **kw) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    df = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq=freq)})
    for k, c in enumerate(columns):
        df[c] = np.sin(2 * np.pi * t / 24 + k) * (k + 1) + 0.1 * rng.standard_normal(n) + 10 * k
    for k, v in kw.items():
        df[k] = v
    df.to_csv(path, index=False)
    return path


@contextmanager
def torch_threads(n: int):
    """torch's thread count n inside the block, the count before it after (tests run at one thread: conftest)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)

