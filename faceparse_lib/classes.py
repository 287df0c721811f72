"""The 19 CelebAMask-HQ classes: names, colours and left/right pairs (the one place for these facts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

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


def mask_palette() -> list[int]:
    """The 768 entries of a mask PNG's palette: the class colours, ignore (255) white, every other index black."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[:NUM_CLASSES] = PALETTE
    palette[IGNORE_INDEX] = IGNORE_COLOR
    return palette.ravel().tolist()


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


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend the colourised mask over an H×W×3 uint8 image."""
    blended = (1 - alpha) * image.astype(np.float32) + alpha * colorize(mask).astype(np.float32)
    return blended.round().astype(np.uint8)


# FaRL's CelebAMask-HQ labels (the `facer` toolkit, and SegFace after it), in its order, by facer's own names, each
# with the kit class it names: rr/lr right/left ear, rb/lb brows, re/le eyes, imouth the inner mouth.
FARL_NAMES: tuple[tuple[str, str], ...] = (
    ("background", "background"), ("neck", "neck"), ("face", "skin"), ("cloth", "cloth"), ("rr", "r_ear"),
    ("lr", "l_ear"), ("rb", "r_brow"), ("lb", "l_brow"), ("re", "r_eye"), ("le", "l_eye"), ("nose", "nose"),
    ("imouth", "mouth"), ("llip", "l_lip"), ("ulip", "u_lip"), ("hair", "hair"), ("eyeg", "eye_g"), ("hat", "hat"),
    ("earr", "ear_r"), ("neck_l", "neck_l"),
)

# Class orders by name, as kit class names: the kit's (official CelebAMask-HQ), the one of the most-used public
# BiSeNet code (zllrunning/face-parsing.pytorch) and its derivatives, and FaRL's, for masks that come from or go
# to those tools.
LABEL_ORDERS: dict[str, tuple[str, ...]] = {
    "celebamask": CLASSES,
    "face-parsing.pytorch": (
        "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r",
        "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat",
    ),
    "farl": tuple(kit for _, kit in FARL_NAMES),
}


def label_order(name: str) -> tuple[str, ...]:
    """The class names of the label order `name`, or ValueError listing the known orders."""
    try:
        return LABEL_ORDERS[name]
    except KeyError:
        raise ValueError(f"unknown label order {name!r}; expected one of {', '.join(LABEL_ORDERS)}") from None


def remap_table(source: str, target: str) -> np.ndarray:
    """Lookup table (256 uint8 entries) from labels of order `source` to order `target`; 255 stays 255."""
    source_names, target_names = label_order(source), label_order(target)
    table = np.arange(256, dtype=np.uint8)
    for index, name in enumerate(source_names):
        table[index] = target_names.index(name)
    return table


def remap_labels(mask: np.ndarray | torch.Tensor, source: str, target: str) -> np.ndarray | torch.Tensor:
    """Renumber a mask (numpy array or torch tensor) from label order `source` to `target`; 255 stays 255."""
    table = remap_table(source, target)
    if hasattr(mask, "numpy") and not isinstance(mask, np.ndarray):  # a torch tensor, without importing torch here
        import torch

        values = mask.long()
        bad = values[((values < 0) | (values >= NUM_CLASSES)) & (values != IGNORE_INDEX)]
        if bad.numel():
            raise ValueError(_bad_labels_message(np.unique(bad.cpu().numpy())))
        return torch.as_tensor(table, device=mask.device)[values].to(mask.dtype)
    mask = np.asarray(mask)
    bad = mask[((mask < 0) | (mask >= NUM_CLASSES)) & (mask != IGNORE_INDEX)]
    if bad.size:
        raise ValueError(_bad_labels_message(np.unique(bad)))
    return table[mask.astype(np.intp)].astype(mask.dtype, copy=False)


def _bad_labels_message(bad: np.ndarray) -> str:
    """"labels 19, 40 outside 0..18 and 255", shortened after eight values."""
    shown = ", ".join(str(int(v)) for v in bad[:8]) + (" ..." if bad.size > 8 else "")
    return f"labels {shown} outside 0..{NUM_CLASSES - 1} and {IGNORE_INDEX}; cannot remap"
