"""Scoring a model on a dataset: one dataset-level confusion matrix, each image scored at its mask's own size."""

from __future__ import annotations

import logging
from typing import Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from faceparse_lib.evaluation.inference import (MODEL_INPUT_SIZE, InputSize, as_lists, model_device, predict_probs,
                                                resolve_input_size, same_size_batches)
from faceparse_lib.evaluation.fscore import FScore
from faceparse_lib.evaluation.metrics import ConfusionMatrix, class_indices

log = logging.getLogger(__name__)


def evaluate(
    model: nn.Module,
    dataset: Dataset,
    tta: str | None = None,
    scales: Sequence[float] | None = None,
    input_size: InputSize = MODEL_INPUT_SIZE,
    batch_size: int = 4,
    workers: int = 0,
    progress: bool = False,
    device: str | torch.device | None = None,
    fscore: FScore | None = None,
) -> ConfusionMatrix:
    """The dataset-level confusion matrix of `model` on (image in [0, 1], mask) pairs, scored at each mask's size.

    Runs on the model's device (moved to `device` first, if given). Images are resized to `input_size` squared:
    by default "model", the size the model was trained at (`model.input_size`, set by load_checkpoint; a model
    without one runs each image at its own size); None runs each image at its own size whatever the model says.
    Pass an `FScore` to also collect the challenge's per-image F-scores, in dataset order.
    """
    if device is not None:
        model.to(device)
    device = model_device(model)
    input_size = resolve_input_size(model, input_size)
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise ValueError(f"{dataset!r} is empty; nothing to evaluate")
    from tqdm.auto import tqdm

    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=as_lists,
                        pin_memory=device.type == "cuda")
    matrix: ConfusionMatrix | None = None
    description = "evaluate" + (f" {tta}" if tta else "") + (" multi-scale" if scales else "")
    with tqdm(total=len(dataset), desc=description, unit="img", disable=not progress) as bar:  # type: ignore[arg-type]
        for images, masks in loader:
            for image_batch, mask_batch in same_size_batches(images, masks):
                probs = predict_probs(model, image_batch, mask_batch.shape[-2:], tta, scales, input_size)
                if matrix is None:
                    matrix = ConfusionMatrix(probs.shape[1], device=device)
                pred, target = class_indices(probs, mask_batch.to(device, non_blocking=True), probs.shape[1])
                matrix.update(pred, target)  # one argmax for both meters
                if fscore is not None:
                    fscore.update(pred, target)
            bar.update(len(images))
    assert matrix is not None
    log.info("evaluated %d images: %r", len(dataset), matrix)  # type: ignore[arg-type]
    return matrix
