"""Export a trained forecaster to ONNX and check it against PyTorch in onnxruntime."""

import logging
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ..errors import SparsecastError
from ..timefeatures import n_time_features
from .run_dir import load_run

INPUTS = ("x", "x_mark", "future_mark", "origin")


def example_inputs(config: dict, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the run's shapes: x (B, seq_len, C), x_mark (B, seq_len, T), future_mark (B, pred_len, T),
    origin (B,) int64."""
    data = config["data"]
    n_marks = n_time_features(data["freq"], data["embed"])
    gen = torch.Generator().manual_seed(seed)
    if data["embed"] == "timeF":
        mark = lambda n: torch.rand(batch, n, n_marks, generator=gen) - 0.5  # noqa: E731
    else:
        mark = lambda n: torch.randint(0, 4, (batch, n, n_marks), generator=gen).float()  # noqa: E731
    x = torch.randn(batch, data["seq_len"], len(config["columns"]), generator=gen)
    origin = torch.randint(0, 10**6, (batch,), generator=gen)
    return x, mark(data["seq_len"]), mark(data["pred_len"]), origin


# What torch's exporter says on every export of our models, none of which asks anything of the user: its registry
# logs each torchvision operator it skips (torchvision is not a dependency), pytree's deprecation of its own calls,
# and the note that the inputs' batch axes share one name.
EXPORTER_LOGGER = "torch.onnx._internal.exporter._registration"
EXPORTER_NOISE = (r".*isinstance\(treespec, LeafSpec\)", r".*The axis name: batch will not be used")


@contextmanager
def quiet_exporter():
    logger = logging.getLogger(EXPORTER_LOGGER)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            for message in EXPORTER_NOISE:
                warnings.filterwarnings("ignore", message=message)
            yield
    finally:
        logger.setLevel(level)


def export_onnx(run_dir: str | Path, path: str | Path, atol: float = 1e-4) -> float:
    """Write the run's model (eval mode, dynamic batch) to ``path``; return the largest absolute difference between
    onnxruntime and PyTorch on a fresh batch. Raises SparsecastError above ``atol``."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise SparsecastError("ONNX export needs onnx, onnxscript and onnxruntime: pip install 'sparsecast[onnx]'") \
            from e
    model, config, _ = load_run(Path(run_dir))
    inputs = example_inputs(config, batch=2)
    with torch.no_grad(), quiet_exporter():
        model(*inputs)  # fixes eval-mode samples of ProbSparse layers as constants
        batch_dim = torch.export.Dim("batch", min=1)
        torch.onnx.export(model, inputs, str(path), input_names=list(INPUTS), output_names=["forecast"],
                          dynamo=True, dynamic_shapes={name: {0: batch_dim} for name in INPUTS}, verbose=False)
        check = example_inputs(config, batch=3, seed=1)
        expected = model(*check)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {name: t.numpy() for name, t in zip(INPUTS, check)}
    got = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]  # unused inputs are dropped
    diff = float(np.abs(got - expected.numpy()).max())
    if diff > atol:
        raise SparsecastError(f"ONNX output differs from PyTorch by {diff:.2e} (> {atol:.0e})")
    return diff
