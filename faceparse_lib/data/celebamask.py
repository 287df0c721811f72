"""Facts of the official CelebAMask-HQ download and its readers: paths, mapping file, split rule, paint order.

`faceparse_lib.data.prepare` writes the course layout from it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
from PIL import Image

from faceparse_lib.classes import CLASSES
from faceparse_lib.data.layout import IMAGE_SIZE, SPLITS, DatasetError, decode_image, open_image

log = logging.getLogger(__name__)

# The official download (the folder `CelebAMask-HQ/` inside CelebAMask-HQ.zip).
IMAGE_DIR = "CelebA-HQ-img"
PART_DIR = "CelebAMask-HQ-mask-anno"
MAPPING_FILE = "CelebA-HQ-to-CelebA-mapping.txt"
IDS_PER_PART_FOLDER = 2000
PART_SIZE = 512

# The official g_mask.py paints part i of this list with value i + 1, later parts over earlier ones. The list is
# the class order without background, so the painted value is the class index (neck over necklace, cloth last).
PAINT_ORDER: tuple[str, ...] = CLASSES[1:]

# CelebA's own partition, by the 0-based `orig_idx` of the mapping file (orig_file 000001..162770 is train,
# 162771..182637 val, the rest test).
VAL_START = 162770
TEST_START = 182637
OFFICIAL_COUNTS = {"train": 24183, "val": 2993, "test": 2824}

def split_of(orig_idx: int) -> str:
    """The official split ("train", "val" or "test") of a CelebA image by its 0-based index."""
    if orig_idx < VAL_START:
        return "train"
    return "val" if orig_idx < TEST_START else "test"


def image_path(raw_root: str | Path, idx: int) -> Path:
    """Where the official download keeps the 1024×1024 photo of CelebA-HQ image `idx`."""
    return Path(raw_root) / IMAGE_DIR / f"{idx}.jpg"


def part_path(raw_root: str | Path, idx: int, part: str) -> Path:
    """Where the official download keeps part `part` (e.g. "hair") of CelebA-HQ image `idx`."""
    return Path(raw_root) / PART_DIR / str(idx // IDS_PER_PART_FOLDER) / f"{idx:05d}_{part}.png"


def read_mapping(path: str | Path) -> dict[int, int]:
    """CelebA-HQ id -> 0-based CelebA index (`orig_idx`) from CelebA-HQ-to-CelebA-mapping.txt."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found; expected the mapping file of the official download")
    lines = path.read_text().splitlines()
    if not lines or lines[0].split()[:2] != ["idx", "orig_idx"]:
        raise DatasetError(f"{path}: line 1 should be the header 'idx orig_idx orig_file'")
    mapping: dict[int, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        try:
            idx, orig_idx = int(fields[0]), int(fields[1])
        except (ValueError, IndexError):
            raise DatasetError(f"{path}: line {number} {line.strip()!r}; expected 'idx orig_idx orig_file'") from None
        if idx in mapping:
            raise DatasetError(f"{path}: line {number} repeats idx {idx}")
        mapping[idx] = orig_idx
    return mapping


def official_split(mapping: Mapping[int, int]) -> dict[str, list[int]]:
    """The CelebA-HQ ids of each official split, sorted."""
    splits: dict[str, list[int]] = {name: [] for name in SPLITS}
    for idx in sorted(mapping):
        splits[split_of(mapping[idx])].append(idx)
    return splits


def read_part(path: str | Path) -> np.ndarray:
    """The pixels of a 512×512 part mask that the official procedure counts as the part (non-zero), as bool."""
    path = Path(path)
    with open_image(path) as image:
        if image.size != (PART_SIZE, PART_SIZE):
            raise DatasetError(
                f"{path}: part mask is {image.size[0]}×{image.size[1]}; expected {PART_SIZE}×{PART_SIZE}"
            )
        image = decode_image(image, path)
        # g_mask.py reads with OpenCV and tests channel 0, which is blue; greyscale files are the same thing.
        if image.mode in ("RGB", "RGBA"):
            image = image.getchannel("B")
        elif image.mode in ("P", "PA"):
            image = image.convert("RGB").getchannel("B")
        elif image.mode == "LA":
            image = image.getchannel("L")
        return np.asarray(image) != 0


def build_label_map(parts: Mapping[str, str | Path]) -> np.ndarray:
    """Paint the part masks {part name: path} into a 512×512 uint8 label map in the official order."""
    unknown = set(parts) - set(PAINT_ORDER)
    if unknown:
        raise ValueError(f"unknown part names {sorted(unknown)}; expected some of {', '.join(PAINT_ORDER)}")
    labels = np.zeros((PART_SIZE, PART_SIZE), dtype=np.uint8)
    for value, part in enumerate(PAINT_ORDER, start=1):
        if part in parts:
            np.copyto(labels, np.uint8(value), where=read_part(parts[part]))
    return labels


def load_face(path: str | Path, size: int = IMAGE_SIZE) -> Image.Image:
    """The square face photo at `path` as an RGB image of `size`×`size`, downscaled with antialiasing."""
    path = Path(path)
    with open_image(path) as image:
        if image.size[0] != image.size[1]:
            raise DatasetError(f"{path}: image is {image.size[0]}×{image.size[1]}; expected a square face photo")
        # JPEG only: decode straight at 1/2, 1/4 or 1/8 scale (an antialiased DCT-domain downscale), skipping
        # most of the decoding and resizing work; never below `size`.
        image.draft("RGB", (size, size))
        face = decode_image(image, path).convert("RGB")
    if face.size != (size, size):
        face = face.resize((size, size), Image.Resampling.LANCZOS)
    return face


def index_parts(raw_root: Path, ids: Iterable[int]) -> dict[int, dict[str, Path]]:
    """{id: {part: path}} for the part files that exist, listing each part folder once."""
    wanted = set(ids)
    found: dict[int, dict[str, Path]] = {idx: {} for idx in wanted}
    known = set(PAINT_ORDER)
    for number in sorted({idx // IDS_PER_PART_FOLDER for idx in wanted}):
        folder = raw_root / PART_DIR / str(number)
        if not folder.is_dir():
            first = number * IDS_PER_PART_FOLDER
            raise DatasetError(
                f"{folder}: folder not found; expected the part masks of images {first}..{first + IDS_PER_PART_FOLDER - 1}"
            )
        with os.scandir(folder) as entries:
            for entry in entries:
                stem, dot, suffix = entry.name.rpartition(".")
                head, _, part = stem.partition("_")
                if suffix == "png" and head.isdigit() and part in known and int(head) in wanted:
                    found[int(head)][part] = Path(entry.path)
    return found
