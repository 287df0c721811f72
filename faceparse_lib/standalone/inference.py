"""Class probabilities of images from a segmentation network, with torch alone: resize, normalise, pad to what the
network accepts, left/right-aware flip and multi-scale TTA, probabilities averaged at the size asked for.

Imports nothing of faceparse_lib: the facts it needs (normalisation, flip pairs, the network's size divisor) come as
arguments, from the kit or from a hand-in's ckpt.pth.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

TTA_MODES = (None, "flip")
Forward = Callable[[torch.Tensor], torch.Tensor]


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """A float 3×H×W tensor in [0, 1] from an H×W×3 uint8 RGB array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(f"image of shape {shape} and dtype {getattr(image, 'dtype', type(image).__name__)}; "
                         "expected an H×W×3 uint8 RGB array")
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255)


def resize_bilinear(maps: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize of N×C×H×W maps (align_corners=False, mmseg's default); a no-op at the same size."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps, size=tuple(size), mode="bilinear", align_corners=False)


def resize_images(images: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear, antialiased resize of N×3×H×W images, as training resizes them; a no-op at the same size."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)


def scaled_size(size: Sequence[int], scale: float) -> tuple[int, int]:
    """A size times `scale`, rounded as mmsegmentation does (int(x * s + 0.5)), at least 1 pixel."""
    height, width = (max(1, int(side * scale + 0.5)) for side in size)
    return height, width


def normalise(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(images - mean) / std per channel, for float images in [0, 1], C×H×W or N×C×H×W."""
    mean_t = torch.tensor(mean, dtype=images.dtype, device=images.device).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=images.dtype, device=images.device).view(3, 1, 1)
    return (images - mean_t) / std_t


def flip_back(scores: torch.Tensor, flip_pairs: Sequence[Sequence[int]]) -> torch.Tensor:
    """Mirror N×C×H×W scores of a mirrored image back AND swap the left/right class channels.

    The mirror of a left eye is a right eye: mirroring the output back without the swap would score the
    image's left eye as a right eye.
    """
    order = list(range(scores.shape[1]))
    for left, right in flip_pairs:
        if max(left, right) >= len(order):
            raise ValueError(f"flip pair ({left}, {right}) does not fit {len(order)} output channels")
        order[left], order[right] = right, left
    return scores.flip(-1)[:, order]


def padded_logits(net: Forward, images: torch.Tensor, divisor: int) -> torch.Tensor:
    """Logits at the images' size: zero-pad bottom/right to a multiple of `divisor`, run, resize to that, crop."""
    height, width = images.shape[-2:]
    padded = F.pad(images, (0, -width % divisor, 0, -height % divisor))
    logits = resize_bilinear(net(padded), padded.shape[-2:])
    return logits[..., :height, :width]


def require_views(tta: str | None, scales: Sequence[float] | None) -> None:
    """Raise ValueError unless `tta` is None or "flip" and `scales` (if given) are positive factors."""
    if tta not in TTA_MODES:
        raise ValueError(f"unknown tta {tta!r}; choose from None or 'flip'")
    if scales is not None and (len(scales) == 0 or min(scales) <= 0):
        raise ValueError(f"scales {tuple(scales)}: expected one or more positive factors, e.g. (0.75, 1.0, 1.25)")


def mean_probabilities(
    forward: Forward,
    images: torch.Tensor,
    out_size: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    flip_pairs: Sequence[Sequence[int]],
    tta: str | None = None,
    scales: Sequence[float] | None = None,
    input_size: int | None = None,
) -> torch.Tensor:
    """Class probabilities N×C×out_h×out_w of float N×3×H×W images in [0, 1], averaged over the TTA views.

    Each view: the images resized (antialiased) to input_size² (or kept at their size when None) times a scale,
    normalised, run through `forward` (logits at its input's size), mirrored if `tta="flip"` (and flipped back with
    the left/right channels swapped), logits resized to `out_size`, softmax. Probabilities are averaged, as
    mmsegmentation's TTA does: a confident view's large logits would otherwise outvote the rest.
    """
    require_views(tta, scales)
    base = (input_size, input_size) if input_size else tuple(images.shape[-2:])
    out_size = tuple(int(side) for side in out_size)
    total: torch.Tensor | None = None
    views = 0
    for scale in scales or (1.0,):
        view = normalise(resize_images(images, scaled_size(base, scale)), mean, std)
        for mirrored in (False, True) if tta == "flip" else (False,):
            logits = forward(view.flip(-1) if mirrored else view)
            if mirrored:
                logits = flip_back(logits, flip_pairs)
            probs = resize_bilinear(logits.float(), out_size).softmax(dim=1)
            total = probs if total is None else total.add_(probs)
            views += 1
    assert total is not None
    return total.div_(views)


def class_indices(probs: torch.Tensor) -> np.ndarray:
    """The H×W uint8 class-index mask of the first image of N×C×H×W probabilities."""
    return probs[0].argmax(dim=0).to(torch.uint8).cpu().numpy()
