"""Images in and masks out with numpy and Pillow: the one reader every path of the kit uses, and the mask picture.

A file is read as every viewer shows it: turned upright by its EXIF orientation, transparency composited onto
white, 16-bit, 32-bit and float greyscale scaled (not clipped) to 8 bits. Imports nothing of faceparse_lib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps

# Greyscale modes wider than 8 bits: their values are scaled to 0..255 (PIL's convert would clip them).
WIDE_GREY_MODES = ("I;16", "I;16B", "I;16L", "I", "F")
EXIF_ORIENTATION = 0x0112


def _full_scale(mode: str, values: np.ndarray) -> float:
    """The value that means white in a greyscale image of `mode`: 1 (floats in 0..1), 255, 65535 or its maximum."""
    peak = float(values.max(initial=0.0))
    if mode.startswith("I;16"):
        return 65535.0
    for top in ((1.0,) if mode == "F" else ()) + (255.0, 65535.0):
        if peak <= top:
            return top
    return peak


def to_rgb(picture: Image.Image) -> np.ndarray:
    """H×W×3 uint8 RGB from any PIL mode: wide greyscale scaled to 8 bits, transparency composited onto white."""
    if picture.mode in WIDE_GREY_MODES:
        values = np.nan_to_num(np.asarray(picture, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        top = _full_scale(picture.mode, values)
        picture = Image.fromarray(np.clip(values / top * 255 + 0.5, 0, 255).astype(np.uint8))
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        picture = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return np.array(picture if picture.mode == "RGB" else picture.convert("RGB"))


def exif_orientation(picture: Image.Image) -> int:
    """The EXIF orientation (1..8; 1 = stored upright, 5..8 = stored turned a quarter)."""
    return picture.getexif().get(EXIF_ORIENTATION) or 1


def upright_size(picture: Image.Image) -> tuple[int, int]:
    """(width, height) of an opened image as `upright_rgb` returns it, without decoding the pixels."""
    width, height = picture.size
    return (height, width) if exif_orientation(picture) in (5, 6, 7, 8) else (width, height)


def upright_rgb(picture: Image.Image) -> np.ndarray:
    """An opened image as H×W×3 uint8 RGB, turned as its EXIF orientation says (phone photos are stored sideways)."""
    if exif_orientation(picture) != 1:
        picture = ImageOps.exif_transpose(picture)
    return to_rgb(picture)


def read_rgb(path: str | Path) -> np.ndarray:
    """The file at `path` as H×W×3 uint8 RGB, as the kit's models see every image (see `upright_rgb`, `to_rgb`)."""
    with Image.open(path) as picture:
        return upright_rgb(picture)


def mask_picture(mask: np.ndarray, palette: Sequence[int]) -> Image.Image:
    """An H×W uint8 class-index mask as a palette PNG picture: the stored values are the indices, `palette` colours them."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"mask of shape {mask.shape} and dtype {mask.dtype}; expected H×W uint8 class indices")
    picture = Image.fromarray(mask)  # mode L
    picture.putpalette(list(palette))  # turns it into P, keeping the stored indices
    return picture
