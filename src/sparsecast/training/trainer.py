"""A small training loop that knows nothing about the model: ``loss_fn(model(**batch.inputs()), batch.target)``."""

import copy
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..checks import require_positive
from ..console import live_progress
from .checkpoint import TrainState, read_checkpoint, rng_states, save_checkpoint, set_rng_states
from .history import History
from .interrupt import StopRequest, deferred_stop
from .losses import LOSSES
from .metrics import QUANTILES, check_levels
from .precision import PRECISIONS, model_width, resolve_device, resolve_precision
from .schedules import PER_STEP, SCHEDULES
from .tally import LossTally, read_every

EVAL_BATCH_SIZE = 64  # validation and test passes' batch (TrainConfig.eval_batch_size says why 64)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; defaults are the Informer paper's.

    Attributes:
        lradj: learning-rate schedule name in SCHEDULES ("type1" halves every epoch after the first; "onecycle",
            PatchTST's "TST", sets the rate and Adam's beta1 at every step over ``epochs`` x the steps of an epoch;
            "patchtst_type3" is type3 as PatchTST's code runs it, with its first epoch at 1/25 of the rate).
        pct_start: the share of the steps over which "onecycle" rises to ``lr`` (PatchTST's scripts: 0.3 or 0.4).
        eval_batch_size: batch size of validation and test passes (under inference_mode). 64, not larger: on a CPU a
            larger batch's activations leave the cache (an Informer pass on ETTh1 per window, 2 threads: 1.4x faster
            at 64 than at 256 in bf16, 1.24x in float32; LongPatch the same at either). Not measured on a GPU,
            where a larger batch may be faster.
        threads: torch CPU threads (0 leaves torch's default).
        device: where ``fit`` trains: "auto" (the default: the first CUDA GPU where torch sees one, else the CPU),
            "cpu", "cuda" or "cuda:N". The closed-form starts (``init_from_data``) are fit on the CPU first.
        precision: "auto" (the default: bfloat16 autocast in training and evaluation where the hardware runs bf16
            natively, CPUs with AVX512-BF16 or AMX and GPUs with bf16, except models 64 wide or narrower on a CPU;
            float32 elsewhere), "fp32" or "bf16".
        bf16: force bf16 (the option's older spelling; True means precision "bf16").
        compile: run the model through ``torch.compile`` (the weights stay those of the model passed in).
        loss: the training loss by name, in ``training/losses.py``: "mse" (the default, the papers'), "mae" or
            "huber". Early stopping validates with the same loss; test metrics report MSE and MAE either way.
        quantiles: the levels of the prediction intervals fit after training (``forecasting/intervals.py``).
        max_minutes: stop training once this much wall-clock time has passed (0: no limit), even inside an epoch:
            the part of the epoch that ran is validated like a whole one, and the best weights so far are kept, as
            with early stopping. Counted from the first training step, validation passes included; the closed-form
            start before it is not. What a run reaches then depends on the machine's speed.
        train_on_val: (``Forecaster.fit`` only) after early stopping on the validation windows chose the epoch,
            train the model again from its start, same seed, on the training and validation windows together for
            that many epochs, and keep the last: the most recent rows, which validation held out, are learnt from
            too. A closed-form start (LongPatch's) solves the ridge, offsets and skip kind validation chose on all
            the windows. The prediction intervals stay those fit on the validated model's held-out errors.
        checkpoint_minutes: inside an epoch, write the checkpoint (when ``fit`` has one) whenever this much training
            time passed since the last write, so a killed run loses at most this much; 0 writes after every step.
            The results do not depend on it.
    """

    epochs: int = 6
    batch_size: int = 32
    eval_batch_size: int = EVAL_BATCH_SIZE
    lr: float = 1e-4
    patience: int = 3
    lradj: str = "type1"
    pct_start: float = 0.3
    seed: int = 0
    threads: int = 0
    device: str = "auto"
    precision: str = "auto"
    bf16: bool = False
    compile: bool = False
    progress: bool = True
    checkpoint_minutes: float = 10.0
    max_minutes: float = 0.0
    train_on_val: bool = False
    loss: str = "mse"
    quantiles: tuple[float, ...] = QUANTILES

    def __post_init__(self):
        object.__setattr__(self, "quantiles", check_levels(self.quantiles))  # a list from JSON, too
        require_positive(self, ("epochs", "batch_size", "eval_batch_size", "patience"))
        for name in ("checkpoint_minutes", "max_minutes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 < self.pct_start < 1:
            raise ValueError(f"pct_start must be between 0 and 1, got {self.pct_start}")
        if self.lradj not in SCHEDULES:
            raise ValueError(f"lradj must be one of {sorted(SCHEDULES)}, got {self.lradj!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {self.loss!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")

    def resolved_precision(self, device: torch.device | str = "cpu", model: nn.Module | None = None) -> tuple[str, str]:
        """The precision this config runs with on ``device`` ("fp32" or "bf16") for ``model`` and why."""
        return resolve_precision("bf16" if self.bf16 else self.precision, device, model_width(model))

    def to_dict(self) -> dict:
        return {**asdict(self), "quantiles": list(self.quantiles)}  # as JSON gives it back


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def autocast(enabled: bool, device: torch.device | str = "cpu"):
    """bfloat16 autocast on ``device``'s type when ``enabled``, else a no-op context."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=enabled)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter, else of its first buffer (a model fit without weights, such as a
    seasonal profile), else the CPU."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@torch.inference_mode()
def evaluate_loss(model: nn.Module, batches: Iterable, loss_fn: Callable = F.mse_loss, bf16: bool = False,
                  outputs: list | None = None, stop: StopRequest | None = None) -> float | None:
    """Mean loss over every window (weighted by batch size), in eval mode without autograd. The batches' losses
    are read from the device once, at the end (no wait for a GPU per batch). ``outputs``: a list that each batch's
    float32 predictions are appended to (left on the model's device). None, with the pass left unfinished, once
    ``stop`` is set (a stop signal during validation: the caller checkpoints and validates again on resume)."""
    model.eval()
    losses, sizes, device = [], [], model_device(model)
    for batch in batches:
        if stop:
            return None
        batch = batch.to(device)
        with autocast(bf16, device):
            pred = _first(model(**batch.inputs())).float()
        losses.append(loss_fn(pred, batch.target))
        sizes.append(len(batch))
        if outputs is not None:
            outputs.append(pred)
    values = torch.stack(losses).tolist() if losses else []
    return sum(value * n for value, n in zip(values, sizes)) / max(sum(sizes), 1)


@torch.inference_mode()
def predict(model: nn.Module, batches: Iterable, bf16: bool = False,
            extra: Callable[..., np.ndarray] | None = None) -> tuple[np.ndarray, ...]:
    """Predictions and targets of every window, concatenated: two arrays (N, pred_len, C_out), returned in fp32
    (computed under bf16 autocast with ``bf16``); with ``extra``, a third array: ``extra(batch)`` of every batch,
    concatenated (what a caller needs of the inputs, without keeping them)."""
    model.eval()
    preds, trues, extras = [], [], []
    device = model_device(model)
    for batch in batches:
        with autocast(bf16, device):
            preds.append(_first(model(**batch.to(device).inputs())).float().cpu().numpy())
        trues.append(batch.target.numpy())
        if extra is not None:
            extras.append(extra(batch))
    out = (np.concatenate(preds), np.concatenate(trues))
    return out + (np.concatenate(extras),) if extra is not None else out


def compile_warm(model: nn.Module, batches: Iterable, bf16: bool = False) -> nn.Module:
    """``torch.compile(model)`` (sharing its parameters) after one eager forward, without gradients, on the first of
    ``batches``: kernels that build state for an input length on first use (FlexAttention's block masks) build it
    then, so the graph traced at the first compiled call reads that state instead of breaking around its build. The
    random streams are left as they were (a model may sample in its forward, as ProbSparse does)."""
    first = next(iter(batches), None)
    if first is not None:
        training, device = model.training, model_device(model)
        model.eval()
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad(), \
                autocast(bf16, device):
            model(**first.to(device).inputs())
        model.train(training)
    return torch.compile(model)


def fit(model: nn.Module, train: Iterable, val: Iterable | None, cfg: TrainConfig, loss_fn: Callable | None = None,
        log: Callable[[str], None] = tqdm.write, checkpoint: Path | None = None, resume: bool = False,
        val_predictions: list | None = None) -> History:
    """Adam with the chosen schedule, early stopping on validation loss; the best weights are restored at the end.

    The model is moved to ``cfg.device`` (a GPU where there is one, by default) and left there; batches follow it.
    ``val`` None trains every one of ``cfg.epochs`` without validating and keeps the last epoch's weights (training on
    all windows for the number of epochs an earlier, validated run chose).

    Args:
        checkpoint: a file written atomically after every epoch, and inside an epoch every
            ``cfg.checkpoint_minutes`` of training, with the model, the best weights, the optimizer, the RNGs, the
            early-stopping state and the position in the epoch.
        resume: continue from ``checkpoint``: the rest of the run is the same as if it had never stopped (``train``
            must serve the same batches in the same order per epoch, as WindowLoader does).

    ``loss_fn`` (prediction, target) -> scalar trains and validates; None takes ``cfg.loss`` by name.
    ``cfg.progress`` shows a progress bar per epoch; a one-line summary of every epoch goes to ``log`` regardless.
    ``val_predictions``: a list that ``fit`` fills with the kept weights' predictions of the validation windows, one
    float32 CPU array (N, P, C_out) in the order ``val`` serves them, as its validation pass computed them (under
    the run's precision), so a caller need not run that pass again; left empty when this process did not validate
    the kept weights (a resumed run whose best epoch ran before the resume).
    """
    loss_fn = loss_fn or LOSSES[cfg.loss]
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    fitted = not resume and hasattr(model, "init_from_data")
    if fitted:
        model.cpu()  # the windows are on the CPU
        # A model with a closed-form start (LongPatch's least-squares linear skip) fits it on the training windows
        # first (its ridge chosen on the validation windows; on the CPU, in float64, where the windows are); those
        # weights are the first candidate of early stopping, so training keeps them unless it helps.
        before = sum(p.numel() for p in model.parameters())
        model.init_from_data(train, () if val is None else val)  # batches of windows (ForecastBatch)
        after = sum(p.numel() for p in model.parameters())
        if after != before:  # the start chose a shape (LongPatch's skip)
            log(f"the start's choice makes it {after / 1e6:.2f}M parameters")
    saved = read_checkpoint(checkpoint) if resume else None
    if saved:
        saved.load_model(model)  # before the optimizer: the saved weights may set a shape the start chose
    model.to(device)
    bf16 = cfg.resolved_precision(device, model)[0] == "bf16"
    # shares the parameters of ``model``
    runner = compile_warm(model, train if val is None else val, bf16) if cfg.compile else model
    # fused: one pass over the weights and their moments per step (an Informer step's update 19 -> 4 ms on a CPU)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    schedule = SCHEDULES[cfg.lradj]
    per_step = cfg.lradj in PER_STEP
    if per_step and not hasattr(train, "__len__"):
        raise ValueError(f"lradj {cfg.lradj!r} sets the rate at every step of the run: the training batches need "
                         f"a len()")
    steps = len(train) if per_step else 0

    def rate(epoch: int, step: int) -> tuple[float, float | None]:
        """The rate at ``step`` of ``epoch`` and Adam's beta1 where the schedule sets it (a per-epoch schedule
        ignores the step)."""
        out = schedule(epoch * steps + step, cfg.epochs * steps, cfg.pct_start) if per_step else schedule(epoch)
        factor, beta1 = out if isinstance(out, tuple) else (out, None)
        return cfg.lr * factor, beta1
    state = saved.restore(optimizer) if saved else TrainState()
    history = state.history
    keep = val_predictions is not None and val is not None
    kept = None  # the validation predictions of the kept weights, where this process computed them
    if resume:
        log(f"resuming {_resume_point(state, train)} of {cfg.epochs}")
    elif fitted and val is not None:
        outputs = [] if keep else None
        history.initial_val_loss = state.best_loss = evaluate_loss(runner, val, loss_fn, bf16, outputs)
        kept = outputs
        state.best_state = copy.deepcopy(model.state_dict())
        log(f"start: a least-squares fit to the training windows, val {state.best_loss:.4f} before any epoch "
            f"(training keeps it unless an epoch validates better)")
    budget = time.perf_counter() + 60 * cfg.max_minutes - sum(history.epoch_seconds) - state.epoch_seconds

    def out_of_time() -> bool:
        return bool(cfg.max_minutes) and time.perf_counter() >= budget

    # With a checkpoint, Ctrl-C or SIGTERM stops after the step (or validation batch) under way, its checkpoint written
    # (training.interrupt).
    stoppable = checkpoint is not None and not (dist.is_available() and dist.is_initialized())
    with deferred_stop(log) if stoppable else nullcontext(StopRequest()) as stop:
        for epoch in range(state.epoch, cfg.epochs):
            history.stopped_for_time |= out_of_time()  # the budget may run out while validating
            if history.stopped_early or history.stopped_for_time:
                break
            if hasattr(train, "set_epoch"):
                train.set_epoch(epoch)
            first = state.step  # where this epoch starts: 0, or a mid-epoch checkpoint's step
            _set_rate(optimizer, *rate(epoch, first))
            lr = rate(epoch, 0)[0]  # the history's rate of the epoch: its first step's, resumed or not
            model.train()
            bar = tqdm(train, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not live_progress(cfg.progress),
                       leave=False, dynamic_ncols=True)
            batches = _skip(iter(bar), state.step)  # the batches a mid-epoch checkpoint already trained on
            last_save = time.perf_counter()
            start = last_save - state.epoch_seconds  # a resumed epoch counts the seconds it had before
            tally = LossTally(state.loss_sum, state.loss_count, read_every(device),  # no wait per step on a GPU
                              lambda s, e=epoch + 1: f"at epoch {e}, step {s}")
            trained = state.step  # steps of this epoch done, for a checkpoint written while validating
            for step, batch in enumerate(batches, start=state.step):
                if per_step and step > first:
                    _set_rate(optimizer, *rate(epoch, step))
                batch = batch.to(device)
                with autocast(bf16, device):
                    loss = loss_fn(_first(runner(**batch.inputs())).float(), batch.target)
                if tally.add(loss, len(batch), step + 1):  # read (and checked) before the update on the CPU
                    bar.set_postfix(loss=f"{tally.mean:.4f}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                trained = step + 1
                if checkpoint is not None and (stop or time.perf_counter() - last_save >= 60 * cfg.checkpoint_minutes):
                    tally.read()
                    state.step, state.epoch_seconds = step + 1, time.perf_counter() - start
                    state.loss_sum, state.loss_count = tally.total, tally.count
                    save_checkpoint(checkpoint, model, optimizer, state)
                    last_save = time.perf_counter()
                    if stop:
                        raise stop.interrupted(f"after step {step + 1} of epoch {epoch + 1}", checkpoint)
                if out_of_time():
                    history.stopped_for_time = True
                    log(f"time budget of {cfg.max_minutes:g} minutes reached at step {step + 1} of epoch {epoch + 1}: "
                        f"validating the weights so far and stopping (the best weights are kept)")
                    break
            tally.read()
            state.loss_sum, state.loss_count = tally.total, tally.count
            outputs = [] if keep else None
            trained_seconds = time.perf_counter() - start
            # without validation every epoch runs and the last one's weights are kept
            val_loss = None if val is None else evaluate_loss(runner, val, loss_fn, bf16, outputs, stop)
            if val is not None and val_loss is None:  # stopped while validating: the resumed run trains none of it
                state.step, state.epoch_seconds = trained, trained_seconds
                save_checkpoint(checkpoint, model, optimizer, state)
                raise stop.interrupted(f"while validating epoch {epoch + 1}", checkpoint)
            history.train_loss.append(state.loss_sum / max(state.loss_count, 1))
            history.lr.append(lr)
            history.epoch_seconds.append(time.perf_counter() - start)
            state.step, state.loss_sum, state.loss_count, state.epoch_seconds = 0, 0.0, 0, 0.0
            state.epoch = epoch + 1
            if val_loss is not None:
                history.val_loss.append(val_loss)
                if val_loss < state.best_loss:
                    state.best_loss, state.best_state, state.bad_epochs = val_loss, copy.deepcopy(model.state_dict()), 0
                    history.best_epoch, kept = epoch, outputs
                else:
                    state.bad_epochs += 1
                history.stopped_early = state.bad_epochs >= cfg.patience
            shown = "" if val_loss is None else f"  val {val_loss:.4f}"
            log(f"epoch {epoch + 1}: train {history.train_loss[-1]:.4f}{shown}  lr {lr:.2e}  "
                f"{history.epoch_seconds[-1]:.0f}s")
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, optimizer, state)
                if stop:
                    raise stop.interrupted(f"after epoch {epoch + 1}", checkpoint)
    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    if keep:
        val_predictions[:] = [torch.cat(kept).cpu().numpy()] if kept else []
    if history.val_loss:
        early = history.stopped_early and len(history.val_loss) < cfg.epochs  # epochs were left
        why = f"stopped early (validation did not improve for {cfg.patience} epochs); " if early else ""
        kept = (f"epoch {history.best_epoch + 1}" if history.best_epoch >= 0 else
                "the fitted start" if history.initial_val_loss is not None else "the last epoch")
        log(f"{why}kept the weights of {kept}: val {history.best_val_loss:.4f}")
    return history


def _set_rate(optimizer: torch.optim.Optimizer, lr: float, beta1: float | None) -> None:
    """Set the optimizer's rate, and Adam's beta1 where one is given."""
    for group in optimizer.param_groups:
        group["lr"] = lr
        if beta1 is not None:
            group["betas"] = (beta1, group["betas"][1])


def _resume_point(state: TrainState, train: Iterable) -> str:
    """Where a resumed run picks up, in words for the log."""
    if not state.step:
        return f"after epoch {state.epoch}"
    if hasattr(train, "__len__") and state.step == len(train):  # killed while validating
        return f"at the validation of epoch {state.epoch + 1}"
    return f"at step {state.step + 1} of epoch {state.epoch + 1}"


def _skip(batches: Iterator, n: int) -> Iterator:
    """``batches`` after its first ``n``; the RNGs are left as they were, so skipping does not change what follows."""
    if n:
        rngs = rng_states()
        for _ in range(n):
            next(batches)
        set_rng_states(rngs)
    return batches
