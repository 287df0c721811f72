"""Faces in arbitrary photos: read a photo upright, find its faces, and frame each one as CelebA-HQ frames a face.

The detector is scikit-image's frontal-face LBP cascade, which ships inside the scikit-image wheel (no download).
It is kept behind `detect_faces` so a better detector can replace it: anything returning `FaceBox`es will do.

Framing. CelebA-HQ's crop is a fixed function of the eyes and mouth (Karras et al. 2018, appendix C): a square
of side max(4 × eye distance, 3.6 × eye-to-mouth distance), centred 0.1 eye-to-mouth below the eyes (and turned
to level the eyes, the border filled by reflection and blur; the kit's crop is not turned and repeats the border
pixels). On the two real photos scikit-image and matplotlib ship (the astronaut; Grace Hopper), read off a grid by
eye, the cascade's box has the eyes 0.42 box sides apart (0.44, 0.41), the mouth 0.45 below them (0.45, 0.44) and
the eyes 0.37 box sides below its top (0.34, 0.40); so CelebA-HQ's square is about 1.7 box sides (1.75, 1.63),
centred about 0.09 box sides above the box's centre (0.12, 0.06). Two photos say no more than ±0.1. With the real
data at hand, `measure_framing` reads the same two numbers off the aligned training images themselves, the better
source; `python -m faceparse_lib framing DATA_ROOT` prints them. The synthetic faces are drawings the cascade
finds in only some images, so they cannot say.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from faceparse_lib.data.layout import DatasetError
from faceparse_lib.standalone.images import upright_rgb

DETECT_MAX_SIDE = 640  # photos are searched at most this large: a phone photo's 12 MP would take minutes
MIN_FACE_SHARE = 0.08  # the smallest face searched for, as a share of the photo's shorter side
MIN_NEIGHBOURS = 6  # overlapping hits a face needs; at 4 (scikit-image's example) a cat and a suit pass for faces


@dataclass(frozen=True)
class FaceBox:
    """A square box in photo pixels: top row, left column and side (a detector's hit or a crop)."""

    top: float
    left: float
    size: float

    @property
    def center(self) -> tuple[float, float]:
        """(row, column) of the box's centre."""
        return self.top + self.size / 2, self.left + self.size / 2

    def contains(self, row: float, col: float) -> bool:
        """Whether the point (row, column) lies inside the box."""
        return self.top <= row < self.top + self.size and self.left <= col < self.left + self.size

    def rounded(self) -> tuple[int, int, int]:
        """(top, left, side) as whole pixels."""
        return round(self.top), round(self.left), max(1, round(self.size))


@dataclass(frozen=True)
class Framing:
    """How a face box maps to a CelebA-HQ-like square crop: side `scale` box sides, centre `shift` box sides below."""

    scale: float = 1.7
    shift: float = -0.09  # negative: the crop's centre lies above the box's (the hair needs the room)

    def crop(self, box: FaceBox) -> FaceBox:
        """The square crop framed around a detected face box."""
        row, col = box.center
        side = self.scale * box.size
        return FaceBox(row + self.shift * box.size - side / 2, col - side / 2, side)


DEFAULT_FRAMING = Framing()


def read_photo(path: str | Path) -> np.ndarray:
    """A photo as H×W×3 uint8 RGB, converted as every image of the kit is (`standalone.images.upright_rgb`)."""
    path = Path(path)
    try:
        with Image.open(path) as picture:
            return upright_rgb(picture)
    except FileNotFoundError:
        raise DatasetError(f"{path}: photo not found") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise DatasetError(f"{path}: not a readable image ({err})") from err


@functools.lru_cache(maxsize=1)
def _cascade():
    from skimage import data, feature

    return feature.Cascade(data.lbp_frontal_face_cascade_filename())


def detect_faces(image: np.ndarray) -> list[FaceBox]:
    """Frontal faces in an H×W×3 uint8 photo, as boxes in the photo's pixels, largest first."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image of shape {image.shape} and dtype {image.dtype}; expected H×W×3 uint8 RGB")
    height, width = image.shape[:2]
    factor = min(1.0, DETECT_MAX_SIDE / max(height, width))
    small = Image.fromarray(image)
    if factor < 1:
        small = small.resize((max(1, round(width * factor)), max(1, round(height * factor))), Image.Resampling.BILINEAR)
    grey = np.asarray(small.convert("L"), dtype=np.float64) / 255
    shorter = min(grey.shape)
    smallest = max(24, int(MIN_FACE_SHARE * shorter))
    if shorter < smallest:
        return []
    hits = _cascade().detect_multi_scale(img=grey, scale_factor=1.2, step_ratio=1, min_size=(smallest, smallest),
                                         max_size=(shorter, shorter), min_neighbor_number=MIN_NEIGHBOURS)
    boxes = [FaceBox(hit["r"] / factor, hit["c"] / factor, hit["width"] / factor) for hit in hits]
    return _drop_nested(sorted(boxes, key=lambda box: -box.size))


def _drop_nested(boxes: Sequence[FaceBox]) -> list[FaceBox]:
    """Keep a box only if its centre lies outside every larger box kept (one face, one box)."""
    kept: list[FaceBox] = []
    for box in boxes:
        if not any(other.contains(*box.center) for other in kept):
            kept.append(box)
    return kept


def measure_framing(images: Iterable[np.ndarray]) -> tuple[Framing, int]:
    """The framing of a set of aligned training faces (median crop-to-box scale and centre shift), and of how many.

    Each image is taken as one whole crop; its face is the detected box nearest the image's centre. Images where
    no face is found are skipped.
    """
    scales, shifts = [], []
    for image in images:
        boxes = detect_faces(image)
        if not boxes:
            continue
        height, width = image.shape[:2]
        box = min(boxes, key=lambda b: math.dist(b.center, (height / 2, width / 2)))
        scales.append(math.sqrt(height * width) / box.size)
        shifts.append((height / 2 - box.center[0]) / box.size)
    if not scales:
        raise ValueError("no face found in any of the images; cannot measure a framing")
    return Framing(scale=float(np.median(scales)), shift=float(np.median(shifts))), len(scales)


def cut_square(image: np.ndarray, crop: FaceBox) -> np.ndarray:
    """The square `crop` of an H×W×C image; where it leaves the photo the border pixels are repeated."""
    top, left, side = crop.rounded()
    height, width = image.shape[:2]
    pad = ((max(0, -top), max(0, top + side - height)), (max(0, -left), max(0, left + side - width)), (0, 0))
    inside = image[max(0, top):max(0, min(height, top + side)), max(0, left):max(0, min(width, left + side))]
    if inside.size == 0:
        raise ValueError(f"crop {crop} lies wholly outside the {width}×{height} photo")
    return np.pad(inside, pad, mode="edge")
