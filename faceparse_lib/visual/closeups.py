"""Finding and framing examples of a class in a split, for looking at the rare classes up close."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from faceparse_lib.data.layout import read_mask, read_pair


def images_with_class(
    pairs: Sequence[tuple[Path, Path]], class_index: int, limit: int = 3, progress: bool = False
) -> list[tuple[Path, Path]]:
    """The first `limit` (image, mask) pairs whose mask holds `class_index`, in the order given."""
    from tqdm.auto import tqdm

    found = []
    for image, mask in tqdm(pairs, desc=f"find class {class_index}", unit="mask", disable=not progress, leave=False):
        if (read_mask(mask) == class_index).any():
            found.append((image, mask))
            if len(found) == limit:
                break
    return found


def crop_around(image: np.ndarray, mask: np.ndarray, class_index: int, margin: float = 0.5,
                min_side: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """The square around the pixels of `class_index` (padded by `margin` of its size), cut from image and mask."""
    rows, cols = np.nonzero(mask == class_index)
    if rows.size == 0:
        raise ValueError(f"class {class_index} does not occur in this mask; nothing to crop around")
    height, width = mask.shape
    side = max(int(np.ptp(rows)) + 1, int(np.ptp(cols)) + 1)
    side = min(max(int(side * (1 + 2 * margin)), min_side), height, width)
    top = int(np.clip((rows.min() + rows.max()) // 2 - side // 2, 0, height - side))
    left = int(np.clip((cols.min() + cols.max()) // 2 - side // 2, 0, width - side))
    return image[top:top + side, left:left + side], mask[top:top + side, left:left + side]


def class_closeups(
    pairs: Sequence[tuple[Path, Path]], class_index: int, limit: int = 3, progress: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Crops (image, mask) around `class_index` from the first `limit` pairs that hold it."""
    return [crop_around(*read_pair(image, mask), class_index)
            for image, mask in images_with_class(pairs, class_index, limit, progress)]
