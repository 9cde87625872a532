"""A step-based training loop for long runs: warm-up then cosine decay, gradient clipping, bf16 autocast where native.

Like ``trainer.fit`` it knows nothing of the model: ``loss_fn(model(**batch.inputs()), batch.target)``.
"""

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from ..console import live_progress
from .precision import PRECISIONS, model_width, resolve_device, resolve_precision
from .interrupt import deferred_stop
from .tally import LossTally, read_every
from .trainer import autocast


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float = 0.1) -> float:
    """Multiplier of the base rate: linear warm-up over ``warmup`` steps, then cosine down to ``min_ratio``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class StepConfig:
    steps: int = 1000
    lr: float = 3e-4
    warmup: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    weight_decay: float = 0.0
    device: str = "auto"  # "auto": the first CUDA GPU torch sees, else the CPU (as TrainConfig.device)
    precision: str = "auto"
    bf16: bool = False
    eval_every: int = 250
    seed: int = 0
    progress: bool = True

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.warmup < 0 or self.eval_every < 1:
            raise ValueError(f"warmup must be >= 0 and eval_every >= 1, got {self.warmup}, {self.eval_every}")

    def to_dict(self) -> dict:
        return asdict(self)

    def resolved_precision(self, device: torch.device | str = "cpu", model: nn.Module | None = None) -> tuple[str, str]:
        """The precision this config runs with on ``device`` ("fp32" or "bf16") for ``model`` and why (see
        TrainConfig)."""
        return resolve_precision("bf16" if self.bf16 else self.precision, device, model_width(model))


@dataclass
class StepHistory:
    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps_run: int = 0
    stopped_by: str | None = None  # the signal that ended the run before its last step


def train_steps(model: nn.Module, batches: Iterator, cfg: StepConfig, loss_fn: Callable,
                evaluate: Callable[[], float] | None = None, log: Callable[[str], None] = tqdm.write) -> StepHistory:
    """Run ``cfg.steps`` optimizer steps on ``cfg.device`` (the model is moved there); every ``eval_every`` steps
    (and at the end) record ``evaluate()``. A first Ctrl-C or SIGTERM (in the main thread) ends the run after the
    step under way, evaluated there like a last step (``history.stopped_by``); a second stops at once."""
    device = resolve_device(cfg.device)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    history = StepHistory()
    start, tally = time.perf_counter(), LossTally(every=read_every(device))  # no wait per step on a GPU
    bar = tqdm(range(cfg.steps), disable=not live_progress(cfg.progress), dynamic_ncols=True)
    model.train()
    bf16 = cfg.resolved_precision(device, model)[0] == "bf16"
    with deferred_stop(log) as stop:
        for step in bar:
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * warmup_cosine(step, cfg.warmup, cfg.steps, cfg.min_lr_ratio)
            batch = next(batches).to(device)
            with autocast(bf16, device):
                loss = loss_fn(model(**batch.inputs()), batch.target)
            if tally.add(loss, 1, step + 1):  # read (and checked) before the update on the CPU
                bar.set_postfix(loss=f"{tally.mean:.3f}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            history.steps_run = step + 1
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps or stop:
                tally.read()
                history.step.append(step + 1)
                history.train_loss.append(tally.mean)
                tally.reset()
                if evaluate:
                    history.val_loss.append(evaluate())
                    model.train()
                log(f"step {step + 1}: train {history.train_loss[-1]:.4f}"
                    + (f"  val {history.val_loss[-1]:.4f}" if evaluate else "")
                    + f"  {time.perf_counter() - start:.0f}s")
            if stop:
                history.stopped_by = stop.name
                log(f"stopped by {stop.name} after step {step + 1} of {cfg.steps}: the weights so far are the run's")
                break
    history.seconds = time.perf_counter() - start
    return history
