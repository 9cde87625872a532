"""Training checkpoints: model, best weights, optimizer, RNG and early-stopping state in one safetensors file.

Tensors go in the safetensors body, everything else in its JSON metadata; nothing is pickled. Writes are atomic
(temporary file, then rename), so a process killed mid-write leaves the previous checkpoint intact.
"""

import json
import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ..atomic import atomic_path
from ..errors import CheckpointError
from .history import History


@dataclass
class TrainState:
    """Where an epoch-based run stands: epochs done, curves so far, and the early-stopping bookkeeping.

    A checkpoint taken inside an epoch also says how far into epoch ``epoch`` (0-based) the run got: ``step`` batches
    done, the sum and count of their losses, and the seconds spent on them.
    """

    epoch: int = 0
    history: History = field(default_factory=History)
    best_loss: float = math.inf
    best_state: dict | None = None
    bad_epochs: int = 0
    step: int = 0
    loss_sum: float = 0.0
    loss_count: int = 0
    epoch_seconds: float = 0.0


def rng_states() -> tuple:
    """The states of the RNGs a training run draws from (torch's, NumPy's, Python's), for ``set_rng_states``."""
    return torch.get_rng_state(), np.random.get_state(), random.getstate()


def set_rng_states(states: tuple) -> None:
    torch_state, np_state, python_state = states
    torch.set_rng_state(torch_state)
    np.random.set_state(np_state)
    random.setstate(python_state)


IMPLEMENTATION = ("foreach", "fused")  # param-group keys saying how an optimizer computes its update


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, state: TrainState) -> None:
    path = Path(path)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if state.best_state is not None:  # may alias the model's tensors: a copy
        tensors.update({f"best.{k}": v.detach().cpu().clone() for k, v in state.best_state.items()})
    opt = optimizer.state_dict()
    extra = {}
    for idx, entries in opt["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{name}"] = value.detach().cpu().contiguous()
            else:
                extra[f"{idx}.{name}"] = value
    tensors["rng.torch"], np_state, python_state = rng_states()
    tensors["rng.numpy"] = torch.from_numpy(np_state[1].astype(np.int64))
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # a GPU run's dropout draws from these
        tensors.update({f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    meta = {
        "epoch": state.epoch, "history": asdict(state.history), "best_loss": state.best_loss,
        "bad_epochs": state.bad_epochs, "step": state.step, "loss_sum": state.loss_sum,
        "loss_count": state.loss_count, "epoch_seconds": state.epoch_seconds,
        "param_groups": opt["param_groups"], "optim_extra": extra,
        "rng_numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "rng_python": _jsonable(python_state),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata={"state": json.dumps(meta)})


@dataclass
class Checkpoint:
    """A checkpoint read from disk: restore the model first (``load_model``), then build the optimizer over the
    model's parameters and restore the rest (``restore``). A model may take its parameters' shapes from the saved
    weights (LongPatch's skip, shared or per channel as its start chose), so the optimizer is built after."""

    path: Path
    tensors: dict
    meta: dict

    def load_model(self, model: nn.Module) -> None:
        try:
            model.load_state_dict({k[6:]: v for k, v in self.tensors.items() if k.startswith("model.")})
        except RuntimeError as e:
            raise CheckpointError(f"{self.path} holds weights of another model: {str(e).splitlines()[0]}") from e

    def restore(self, optimizer: torch.optim.Optimizer) -> TrainState:
        """Restore ``optimizer`` and the RNGs; return the training state to continue from."""
        tensors, meta = self.tensors, self.meta
        best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")} or None
        opt_state: dict = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, idx, name = k.split(".", 2)
                opt_state.setdefault(int(idx), {})[name] = v
        for key, value in meta["optim_extra"].items():
            idx, name = key.split(".", 1)
            opt_state.setdefault(int(idx), {})[name] = value
        # the saved groups' hyperparameters, with the update's implementation the optimizer was built with (a run
        # saved under foreach Adam resumes fused)
        groups = [{**saved, **{k: now[k] for k in IMPLEMENTATION if k in now}}
                  for saved, now in zip(meta["param_groups"], optimizer.param_groups)]
        optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
        kind, pos, has_gauss, cached = meta["rng_numpy"]
        np_state = (kind, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, cached)
        set_rng_states((tensors["rng.torch"], np_state, _tupled(meta["rng_python"])))
        cuda = [tensors[f"rng.cuda.{i}"] for i in range(sum(k.startswith("rng.cuda.") for k in tensors))]
        if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):  # same GPUs: same draws
            torch.cuda.set_rng_state_all(cuda)
        return TrainState(epoch=meta["epoch"], history=History(**meta["history"]), best_loss=meta["best_loss"],
                          best_state=best, bad_epochs=meta["bad_epochs"], step=meta.get("step", 0),
                          loss_sum=meta.get("loss_sum", 0.0), loss_count=meta.get("loss_count", 0),
                          epoch_seconds=meta.get("epoch_seconds", 0.0))


def read_checkpoint(path: Path) -> Checkpoint:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["state"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"cannot read the checkpoint {path} (missing or truncated): {e}") from e
    return Checkpoint(Path(path), tensors, meta)


def load_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> TrainState:
    """Restore ``model``, ``optimizer`` and the RNGs from ``path``; return the training state to continue from."""
    saved = read_checkpoint(path)
    saved.load_model(model)
    return saved.restore(optimizer)


def _jsonable(x):
    return [_jsonable(v) for v in x] if isinstance(x, (tuple, list)) else x


def _tupled(x):
    return tuple(_tupled(v) for v in x) if isinstance(x, list) else x
