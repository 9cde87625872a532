"""Data-parallel training across processes started by torchrun (gloo on CPU, nccl on GPU)."""

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch import nn

from .precision import resolve_device
from .trainer import model_device


@dataclass(frozen=True)
class Distributed:
    """This process's place in a job: rank and world size (1 for a plain single-process run)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @staticmethod
    def local_rank() -> int:
        """This process's index on its machine (torchrun's LOCAL_RANK; 0 outside torchrun)."""
        return int(os.environ.get("LOCAL_RANK", 0))

    def device(self, requested: str = "auto") -> torch.device:
        """This process's device: under torchrun with GPUs, "auto" and "cuda" mean the GPU of this process's local
        rank (LOCAL_RANK); otherwise ``requested`` as ``resolve_device`` reads it."""
        device = resolve_device(requested)
        if self.world_size > 1 and device.type == "cuda" and device.index is None:
            device = torch.device("cuda", self.local_rank())
        return device

    @classmethod
    def from_env(cls, device: str = "auto") -> "Distributed":
        """Join the job torchrun started (RANK, WORLD_SIZE, MASTER_ADDR, ... in the environment): over nccl when the
        run trains on GPUs (``device`` as TrainConfig.device), each process on the GPU of its LOCAL_RANK, else gloo."""
        if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) < 2:
            return cls()
        gpu = resolve_device(device).type == "cuda"
        if gpu:
            torch.cuda.set_device(cls.local_rank())
        if not torch_dist.is_initialized():
            torch_dist.init_process_group("nccl" if gpu else "gloo")
        return cls(torch_dist.get_rank(), torch_dist.get_world_size())

    def wrap(self, model: nn.Module) -> nn.Module:
        """DistributedDataParallel around ``model`` when there are peers.

        On GPU, BatchNorm statistics are synchronised across processes; PyTorch's SyncBatchNorm is GPU-only, so on CPU
        each process normalises over its own share of the batch (Informer's distilling layers), which makes the loss
        curve close to, not equal to, the single-process one.
        """
        if self.world_size == 1:
            return model
        device = model_device(model)
        if device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            return nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
        return nn.parallel.DistributedDataParallel(model)

    def close(self) -> None:
        if self.world_size > 1 and torch_dist.is_initialized():
            torch_dist.destroy_process_group()
