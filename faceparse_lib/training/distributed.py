"""torch.distributed set-up for `torchrun`: NCCL on GPUs, gloo on CPUs; a no-op in a single process."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    """Where this process stands: its rank, the number of processes and the device it trains on."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Whether this process writes logs and checkpoints (rank 0)."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> the first CUDA device if there is one, else the CPU; any other name as torch spells it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def setup(device: str = "auto") -> Distributed:
    """Join the process group that `torchrun` describes in the environment, or stay a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    base = resolve_device(device)
    if world_size <= 1:
        return Distributed(device=base)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if base.type == "cuda":
        torch.cuda.set_device(local_rank)
        base = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if base.type == "cuda" else "gloo")
    return Distributed(rank=rank, world_size=world_size, device=base)


def teardown(env: Distributed) -> None:
    """Leave the process group (after the last collective)."""
    if env.enabled and dist.is_initialized():
        dist.destroy_process_group()


def any_rank(flags: torch.Tensor, env: Distributed) -> torch.Tensor:
    """Element-wise maximum of a small flag tensor over all ranks, so every rank takes the same decision."""
    if env.enabled:
        flags = flags.to(env.device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return flags.cpu()


def sum_over_ranks(values: torch.Tensor, env: Distributed) -> torch.Tensor:
    """Sum of a small tensor over all ranks (itself in a single process)."""
    if env.enabled:
        values = values.to(env.device)
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values.cpu()


def broadcast_buffers(model: torch.nn.Module, env: Distributed) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics), so all ranks hold the same model."""
    if env.enabled:
        for buffer in model.buffers():
            dist.broadcast(buffer.data, src=0)
