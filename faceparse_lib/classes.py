"""The 19 CelebAMask-HQ classes: names, colours and left/right pairs (the one place for these facts)."""

from __future__ import annotations

import numpy as np

CLASSES: tuple[str, ...] = (
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
    "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
)
NUM_CLASSES = len(CLASSES)
IGNORE_INDEX = 255

# Readable names for tables and legends, in class order.
CLASS_TITLES: tuple[str, ...] = (
    "background", "skin", "nose", "eyeglasses", "left eye", "right eye", "left brow", "right brow",
    "left ear", "right ear", "mouth", "upper lip", "lower lip", "hair", "hat", "earring", "necklace",
    "neck", "cloth",
)

# The CelebAMask-HQ authors' palette, so figures read like the paper's.
PALETTE = np.array(
    [
        [0, 0, 0], [204, 0, 0], [76, 153, 0], [204, 204, 0], [51, 51, 255], [204, 0, 204],
        [0, 255, 255], [255, 204, 204], [102, 51, 0], [255, 0, 0], [102, 204, 0], [255, 255, 0],
        [0, 0, 153], [0, 0, 204], [255, 51, 153], [0, 204, 204], [0, 51, 0], [255, 153, 51],
        [0, 204, 0],
    ],
    dtype=np.uint8,
)
IGNORE_COLOR = np.array([255, 255, 255], dtype=np.uint8)

# (left, right) class indices that trade places when an image is mirrored.
FLIP_PAIRS: tuple[tuple[int, int], ...] = ((4, 5), (6, 7), (8, 9))


def flip_permutation() -> np.ndarray:
    """Class-index lookup table (256 entries) that swaps every left/right pair and keeps the rest."""
    table = np.arange(256, dtype=np.uint8)
    for left, right in FLIP_PAIRS:
        table[left], table[right] = right, left
    return table


def class_names(num_classes: int = NUM_CLASSES) -> tuple[str, ...]:
    """CLASSES for the 19 CelebAMask-HQ classes, else "0".."C-1" (a model or table with another class count)."""
    return CLASSES if num_classes == NUM_CLASSES else tuple(str(c) for c in range(num_classes))


def colorize(mask: np.ndarray) -> np.ndarray:
    """Map an H×W class-index mask to an H×W×3 uint8 picture (ignore pixels white); other labels are refused."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"colorize expects an H×W mask, got shape {mask.shape}")
    if mask.size and (mask.min() < 0 or mask.max() >= NUM_CLASSES):
        bad = np.unique(mask[((mask < 0) | (mask >= NUM_CLASSES)) & (mask != IGNORE_INDEX)])
        if bad.size:
            shown = ", ".join(str(v) for v in bad[:8].tolist()) + (" ..." if bad.size > 8 else "")
            raise ValueError(f"mask values must lie in 0..{NUM_CLASSES - 1} or {IGNORE_INDEX}; found {shown}")
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:NUM_CLASSES] = PALETTE
    lut[IGNORE_INDEX] = IGNORE_COLOR
    return lut[mask.astype(np.intp)]
