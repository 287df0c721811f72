"""Validation during training: the val loss of the main head and every score, at each mask's own size."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from faceparse_lib.classes import CLASSES, IGNORE_INDEX, NUM_CLASSES
from faceparse_lib.evaluation.fscore import FScore
from faceparse_lib.evaluation.inference import predict_probs, same_size_batches
from faceparse_lib.evaluation.metrics import ConfusionMatrix
from faceparse_lib.training import distributed
from faceparse_lib.training.config import TrainConfig
from faceparse_lib.training.losses import SegmentationLoss


@torch.inference_mode()
def validate(model: nn.Module, val_data: torch.utils.data.Dataset, loss_fn: SegmentationLoss, cfg: TrainConfig,
             env: distributed.Distributed) -> dict[str, Any]:
    """Val loss (main head), the challenge F-score, mIoU, mean F1, pixel accuracy and per-class IoU, at each mask's size."""
    device = env.device
    matrix = ConfusionMatrix(cfg.num_classes, device=device)
    fscore = FScore(cfg.num_classes)
    indices = list(range(env.rank, len(val_data), env.world_size))  # each rank scores its share
    totals = torch.zeros(2, dtype=torch.float64)  # weighted CE sum, non-ignored pixels
    weights = loss_fn.class_weights
    for start in range(0, len(indices), cfg.eval_batch_size):
        images, masks = zip(*(val_data[i] for i in indices[start:start + cfg.eval_batch_size]))
        for image_batch, mask_batch in same_size_batches(images, masks):
            mask_batch = mask_batch.to(device)
            probs = predict_probs(model, image_batch, mask_batch.shape[-2:], input_size=cfg.input_size)
            log_probs = probs.clamp_min_(torch.finfo(probs.dtype).tiny).log_()
            totals[0] += float(F.nll_loss(log_probs, mask_batch, weight=weights, ignore_index=IGNORE_INDEX, reduction="sum"))
            totals[1] += int((mask_batch != IGNORE_INDEX).sum())
            pred = log_probs.max(dim=1).indices  # once, for both scores
            matrix.update(pred, mask_batch)
            fscore.update(pred, mask_batch)
    matrix.all_reduce()
    fscore.all_gather()
    totals = distributed.sum_over_ranks(totals, env)
    row: dict[str, Any] = {
        "kind": "val", "val_loss": float(totals[0] / max(totals[1], 1)), "fscore": fscore.mean(), "miou": matrix.miou(),
        "mean_f1": matrix.mean_f1(), "pixel_accuracy": matrix.pixel_accuracy(),
    }
    if cfg.num_classes == NUM_CLASSES:
        row.update({f"iou_{name}": float(v) for name, v in zip(CLASSES, matrix.iou())})
        row.update({f"f_{name}": float(v) for name, v in zip(CLASSES, fscore.per_class())})
    return row
