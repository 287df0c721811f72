"""Inference: an image batch to class probabilities at a target size, with left/right-aware flip and multi-scale TTA.

Every prediction of the kit goes through `predict_probs`: images in [0, 1] are normalised, resized for the model, run
(mirrored and/or at several scales for TTA) and the class probabilities resized back to the size asked for, so
scores are always taken at each mask's own resolution. The arithmetic is `standalone.inference`'s, the very code a
hand-in's run.py runs; this module adds the kit's checks, devices and eval mode.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from faceparse_lib.classes import FLIP_PAIRS
from faceparse_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from faceparse_lib.standalone import inference as core

# input_size's default: the side the model was trained at (`model.input_size`, set by load_checkpoint).
MODEL_INPUT_SIZE = "model"
InputSize = int | None | str
# Slack for images resized with antialiasing or stored as float16 before they reach us.
_RANGE_TOLERANCE = 1e-3

def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CPU for a model without either."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put the model in eval mode for the block, then restore each module's own training flag."""
    flags = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags.items():
            module.train(training)


def flip_back(output: torch.Tensor, flip_pairs: Sequence[tuple[int, int]] = FLIP_PAIRS) -> torch.Tensor:
    """Mirror N×C×H×W scores of a mirrored image back AND swap the left/right class channels (the kit's pairs)."""
    return core.flip_back(output, flip_pairs)


def require_unnormalised(images: torch.Tensor) -> None:
    """Raise ValueError unless `images` are float N×3×H×W (or 3×H×W) values in [0, 1], as FaceParsingDataset yields."""
    if not images.is_floating_point():
        raise ValueError(f"images have dtype {images.dtype}; expected float images in [0, 1] as FaceParsingDataset yields")
    if images.ndim not in (3, 4) or images.shape[-3] != 3:
        raise ValueError(f"images of shape {tuple(images.shape)}; expected 3×H×W or N×3×H×W")
    low, high = (float(v) for v in torch.aminmax(images))
    if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        raise ValueError(
            f"images hold values in [{low:.2f}, {high:.2f}]; expected unnormalised images in [0, 1] as "
            "FaceParsingDataset yields them. They look already normalised (or 0..255): evaluation normalises "
            "itself, so drop normalize from the dataset's transform"
        )


def resolve_input_size(model: nn.Module, input_size: InputSize) -> int | None:
    """The side images are resized to: the model's trained size for "model", None for each image's own size."""
    if input_size == MODEL_INPUT_SIZE:
        return getattr(model, "input_size", None)
    if input_size is not None and (not isinstance(input_size, int) or input_size < 1):
        raise ValueError(f"input_size {input_size!r}: expected a side in pixels, None (each image's own size) or 'model'")
    return input_size


def _forward(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Logits N×C×H×W from a kit model ({"out": logits}) or from a model returning the logits themselves."""
    output = model(images)
    return output["out"] if isinstance(output, dict) else output


def predict_probs(
    model: nn.Module,
    images: torch.Tensor,
    out_size: tuple[int, int] | torch.Size,
    tta: str | None = None,
    scales: Sequence[float] | None = None,
    input_size: int | None = None,
) -> torch.Tensor:
    """Class probabilities N×C×out_h×out_w for float images N×3×H×W in [0, 1] (unnormalised), on the model's device.

    The images are normalised and resized to input_size×input_size (if set; else kept at their own size), times
    each of `scales`; `tta="flip"` adds each view's mirror, its output mirrored back with the left/right channels
    swapped. Every output's logits are resized (bilinear) to `out_size`, turned into softmax probabilities and
    averaged, as mmsegmentation's test-time augmentation does: probabilities share one scale across views, where a
    confident view's large logits would otherwise outvote the rest.
    """
    core.require_views(tta, scales)
    if images.ndim == 3:
        images = images[None]
    require_unnormalised(images)
    images = images.to(model_device(model), torch.float32, non_blocking=True)
    with eval_mode(model), torch.inference_mode():
        return core.mean_probabilities(lambda view: _forward(model, view), images, out_size, IMAGENET_MEAN,
                                       IMAGENET_STD, FLIP_PAIRS, tta, scales, input_size)


def predict_image(
    model: nn.Module,
    image: np.ndarray | torch.Tensor,
    tta: str | None = None,
    scales: Sequence[float] | None = None,
    input_size: InputSize = MODEL_INPUT_SIZE,
) -> np.ndarray:
    """The H×W uint8 class-index mask of one image (H×W×3 uint8 array, or float 3×H×W tensor in [0, 1]).

    `input_size` as in `evaluate`.
    """
    tensor = image_tensor(image)
    probs = predict_probs(model, tensor[None], tensor.shape[-2:], tta, scales, resolve_input_size(model, input_size))
    return core.class_indices(probs)


def image_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A float 3×H×W tensor in [0, 1] from an H×W×3 uint8 array (a tensor is taken as it is)."""
    return image if isinstance(image, torch.Tensor) else core.image_tensor(image)


def same_size_batches(
    images: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Stack runs of consecutive (image, mask) pairs of equal sizes (on a course set: the whole batch)."""
    start = 0
    for end in range(1, len(images) + 1):
        if end == len(images) or images[end].shape != images[start].shape or masks[end].shape != masks[start].shape:
            yield torch.stack(list(images[start:end])), torch.stack(list(masks[start:end]))
            start = end


def as_lists(batch: list[tuple]) -> tuple[list, ...]:
    """Collate into lists (sizes may differ); module-level so DataLoader workers can pickle it."""
    return tuple(list(items) for items in zip(*batch))
