"""The optimizer (SGD as the seed report, AdamW for small models from scratch), its schedule, and the AMP dtype."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from faceparse_lib.training.config import TrainConfig, lr_at


def make_sgd(params: list[dict], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def make_adamw(params: list[dict], cfg: TrainConfig) -> torch.optim.Optimizer:
    # foreach (one kernel per group, not per tensor) is torch's default on CUDA only; on the CPU it is faster too.
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)


OPTIMIZERS: dict[str, Callable[[list[dict], TrainConfig], torch.optim.Optimizer]] = {"sgd": make_sgd, "adamw": make_adamw}


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD decays every weight (as mmseg's seed config did); AdamW leaves norms and biases undecayed."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        decay = [p for p in params if p.ndim > 1]
        rest = [p for p in params if p.ndim <= 1]
        groups = [{"params": decay}, {"params": rest, "weight_decay": 0.0}]
    else:
        groups = [{"params": params}]
    return OPTIMIZERS[cfg.optimizer](groups, cfg)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-iteration learning rates of `lr_at` (warm-up, then poly decay)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: lr_at(cfg, t) / cfg.lr)


def amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype this run uses on `device`, or None for fp32."""
    if cfg.amp == "auto":
        return torch.float16 if device.type == "cuda" else None
    return {"fp16": torch.float16, "bf16": torch.bfloat16, "off": None}[cfg.amp]
