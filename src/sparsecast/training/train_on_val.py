"""Training again on every window, the held-out ones too, for the epochs validation chose (TrainConfig.train_on_val).

A model with a closed-form start (LongPatch's skip, the series wrapper's seasonal profile) records what its start
chose on the validation windows (``start_choice``); the model trained again is given those choices
(``reuse_start_choice``) and solves them on all the windows instead of choosing with nothing held out.
"""

import dataclasses
from collections.abc import Callable

from torch import nn

from ..data.windows import Windows
from .history import History
from .trainer import TrainConfig, fit, seed_everything


def starts(model: nn.Module) -> list[nn.Module]:
    """The modules of ``model`` whose closed-form start records its choice, in a fixed order."""
    return [m for m in model.modules() if hasattr(m, "reuse_start_choice")]


def train_on_val(validated: nn.Module, epochs: int, build: Callable[[], nn.Module], windows: Windows,
                 cfg: TrainConfig) -> tuple[nn.Module, History | None]:
    """A model from ``build()`` (after seeding with ``cfg.seed``: the validated run's start) trained on ``windows``
    for ``epochs`` without validating, its closed-form starts given the choices ``validated``'s made; ``epochs`` 0
    (validation kept the closed-form start itself) solves that start alone. Returns the model and its history."""
    choices = [m.start_choice for m in starts(validated)]
    seed_everything(cfg.seed)
    model = build()
    for module, choice in zip(starts(model), choices):
        module.reuse_start_choice(choice)
    if not epochs:
        model.init_from_data(windows.loader(cfg.eval_batch_size), ())
        return model, None
    cfg = dataclasses.replace(cfg, epochs=epochs)
    return model, fit(model, windows.loader(cfg.batch_size, True, cfg.seed), None, cfg)
