"""Joint image/mask transforms: the report's training augmentation and evaluation pre-processing."""

from __future__ import annotations

import torch

from faceparse_lib.classes import FLIP_PAIRS

# ImageNet statistics, as the pretrained encoders (and mmsegmentation's data preprocessor) expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize(image: torch.Tensor) -> torch.Tensor:
    """ImageNet-normalise a float image in [0, 1], C×H×W or N×C×H×W."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=image.dtype, device=image.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=image.dtype, device=image.device).view(3, 1, 1)
    return (image - mean) / std


def swap_left_right(mask: torch.Tensor) -> torch.Tensor:
    """A mask with every left/right class pair (FLIP_PAIRS) swapped, pixels unmoved."""
    swapped = mask.clone()
    for left, right in FLIP_PAIRS:
        swapped[mask == left] = right
        swapped[mask == right] = left
    return swapped


def hflip(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror image and mask left to right and swap the left/right classes, so a left eye stays a left eye."""
    return image.flip(-1), swap_left_right(mask.flip(-1))
