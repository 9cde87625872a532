"""Train a Sparse Transformer on bytes or digit images, report bits per byte / per dimension, and sample from it."""

import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from ..console import say
from ..data.tokens import TokenData, byte_data, digits_data
from ..errors import DataError
from ..forecasting.run_dir import CONFIG, HISTORY, METRICS, load_model, save_weights, write_json
from ..models import SparseTransformer, SparseTransformerConfig
from ..training import seed_everything
from ..training.steps import StepConfig, train_steps
from ..training.precision import device_label, resolve_device
from ..training.trainer import autocast, model_device

NAMED = {"tinyshakespeare": "tinyshakespeare.txt"}


def load_tokens(data: str, context: int, root_path: str | None = None) -> TokenData:
    """A named set ("tinyshakespeare" from ``root_path``, "digits"), or the path of any file read as bytes."""
    if data == "digits":
        return digits_data()
    if data in NAMED:
        if not root_path:
            raise DataError(f"{data} is read from --root-path (the folder holding {NAMED[data]})")
        return byte_data(Path(root_path) / NAMED[data], context)
    return byte_data(data, context)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy in nats."""
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())


@torch.no_grad()
def bits(model, tokens: TokenData, split: str, batch_size: int, max_batches: int | None = None,
         bf16: bool = False) -> float:
    """Mean bits per token (per byte, per dimension) over the split's windows."""
    model.eval()
    total, count, device = 0.0, 0, model_device(model)
    for batch in tokens.eval_batches(split, batch_size, max_batches):
        batch = batch.to(device)
        with autocast(bf16, device):
            logits = model(**batch.inputs())
        total += F.cross_entropy(logits.float().flatten(0, 1), batch.targets.flatten(), reduction="sum").item()
        count += batch.targets.numel()
    return total / max(count, 1) / math.log(2)


def train_lm(data: str, model_params: dict, cfg: StepConfig, batch_size: int, out: str | Path,
             root_path: str | None = None, context: int = 256, eval_batches: int | None = 20,
             flat_positions: bool = False, log=say) -> dict:
    """Train, write ``out`` (config.json, model.safetensors, metrics.json, history.json) and return the metrics.

    ``flat_positions`` embeds image positions as one 1-D index instead of one embedding per dimension.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    tokens = load_tokens(data, context, root_path)
    shape = tokens.shape if tokens.kind == "images" else (context,)
    if flat_positions:
        shape = (math.prod(shape),)
    model_cfg = SparseTransformerConfig(vocab_size=tokens.vocab_size, shape=shape, **model_params)
    model = SparseTransformer(model_cfg)
    n_params = sum(p.numel() for p in model.parameters())
    device = resolve_device(cfg.device)  # where train_steps trains
    precision, why = cfg.resolved_precision(device, model)
    bf16 = precision == "bf16"
    log(f"sparse transformer ({n_params / 1e6:.2f}M parameters, {precision}: {why}, {device_label(device)}, "
        f"attn {model_cfg.attn}, combine {model_cfg.combine}, stride {model_cfg.block}) on {data}: "
        f"context {model_cfg.context}, batch {batch_size}, {cfg.steps} steps")
    run_config = {"model_name": "sparse_transformer", "model": model_cfg.to_dict(), "data": data,
                  "root_path": root_path, "kind": tokens.kind, "train": cfg.to_dict(), "batch_size": batch_size,
                  "precision": precision, "device": str(device)}
    write_json(out / CONFIG, run_config)

    def evaluate() -> float:
        save_weights(model, out)  # a checkpoint at every evaluation
        return bits(model, tokens, "val", batch_size, eval_batches, bf16)

    history = train_steps(model, tokens.random_batches("train", batch_size, cfg.seed), cfg, lm_loss,
                          evaluate=evaluate, log=log)
    key = f"bits_per_{tokens.unit}"
    metrics = {"test": {key: bits(model, tokens, "test", batch_size, bf16=bf16)},
               "val": {key: bits(model, tokens, "val", batch_size, bf16=bf16)},
               "train_seconds": history.seconds, "seconds_per_step": history.seconds / max(1, history.steps_run),
               "steps": history.steps_run, "parameters": n_params}
    if history.stopped_by:
        metrics["stopped_by"] = history.stopped_by
    save_weights(model, out)
    write_json(out / METRICS, metrics)
    write_json(out / HISTORY, dataclasses.asdict(history))
    return metrics


def sample_lm(run_dir: str | Path, prompt: str = "", n_tokens: int = 500, temperature: float = 1.0,
              top_k: int | None = None, seed: int = 0) -> str:
    """Text sampled from a byte-level run after ``prompt``."""
    model, config = load_model(Path(run_dir))
    if config.get("kind") != "stream":
        raise DataError(f"{run_dir} models images, not text: sampling a text prompt needs a byte-level run")
    start = list(prompt.encode()) or [ord("\n")]
    out = model.generate(torch.tensor([start]), n_tokens, temperature, top_k, seed)
    return bytes(out[0].tolist()).decode("utf-8", errors="replace")
