"""The course layout on disk and its readers, without torch: `ROOT/SPLIT/images/STEM.jpg`, `ROOT/SPLIT/masks/STEM.png`.

Every split may have masks; `train` and `val` must, `test` may not (the course handed it out without them, the
official download and `prepare` write them). Masks are single-channel 8-bit PNGs of class indices 0..18, 255 = ignore.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from faceparse_lib.classes import IGNORE_INDEX, NUM_CLASSES
from faceparse_lib.standalone.images import exif_orientation, upright_rgb

SPLITS = ("train", "val", "test")
IMAGES_DIR = "images"
MASKS_DIR = "masks"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MASK_SUFFIX = ".png"
IMAGE_SIZE = 512  # the side of the course's square images and masks (other sizes are read as they are)

# Mask modes that hold class indices directly: 8-bit greyscale and 8-bit palette (the index is the label).
_INDEX_MODES = {"L", "P"}


class DatasetError(ValueError):
    """A file or folder that does not match the course layout; the message names it and says what was expected."""


def images_dir(root: str | Path, split: str) -> Path:
    """The folder of one split's images: ROOT/SPLIT/images."""
    return Path(root) / split / IMAGES_DIR


def masks_dir(root: str | Path, split: str) -> Path:
    """The folder of one split's masks: ROOT/SPLIT/masks."""
    return Path(root) / split / MASKS_DIR


def first_problem(problems: list[str], note: str = "") -> str:
    """The first problem, with how many more there are: "a.png: ... (and 3 more)"."""
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more{note})" if more > 0 else "")


def open_image(path: str | Path) -> Image.Image:
    """Open an image file lazily (size and mode known, pixels not yet decoded), or raise DatasetError naming it."""
    try:
        return Image.open(path)
    except (FileNotFoundError, IsADirectoryError):
        raise DatasetError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DatasetError(f"{path}: unreadable or truncated image ({err})") from err


def decode_image(image: Image.Image, path: str | Path) -> Image.Image:
    """Decode the pixels now, so a truncated file fails here with its name and not later in a worker."""
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as err:
        raise DatasetError(f"{path}: unreadable or truncated image ({err})") from err
    return image


def _load(path: str | Path) -> Image.Image:
    """Open and fully decode an image file, turning every failure into a DatasetError naming the file."""
    return decode_image(open_image(path), path)


def invalid_labels(mask: np.ndarray, ignore_index: int | None = IGNORE_INDEX) -> np.ndarray:
    """The sorted distinct values of `mask` outside 0..18 and `ignore_index` (255; None: a prediction, 0..18 only)."""
    if mask.size == 0 or (int(mask.max()) < NUM_CLASSES and int(mask.min()) >= 0):
        return np.empty(0, dtype=mask.dtype)
    # Masks padded with ignore pixels land here on every read: select first, sort only what is left.
    outside = (mask >= NUM_CLASSES) | (mask < 0)
    return np.unique(mask[outside & (mask != ignore_index)] if ignore_index is not None else mask[outside])


def validate_mask(mask: np.ndarray, name: str | Path) -> np.ndarray:
    """Return `mask` if every label is a class index or IGNORE_INDEX, else raise DatasetError naming `name`."""
    bad = invalid_labels(mask)
    if bad.size:
        shown = ", ".join(str(int(v)) for v in bad[:8]) + (" ..." if bad.size > 8 else "")
        noun = "label" if bad.size == 1 else "labels"
        raise DatasetError(f"{name}: {noun} {shown} outside 0..{NUM_CLASSES - 1} and {IGNORE_INDEX}")
    return mask


def read_mask(path: str | Path) -> np.ndarray:
    """Read a single-channel 8-bit (or palette) PNG mask as an H×W uint8 array of class indices."""
    image = _load(Path(path))
    if image.mode not in _INDEX_MODES:
        if image.mode in ("RGB", "RGBA"):
            expected = "a colour mask; expected one channel of class indices (see faceparse_lib.classes.PALETTE)"
        elif image.mode.startswith("I") or image.mode == "F":
            expected = f"a {image.mode} mask (16/32-bit); expected 8-bit class indices"
        else:
            expected = f"mode {image.mode}; expected a single-channel 8-bit mask of class indices"
        raise DatasetError(f"{path}: {expected}")
    return validate_mask(np.array(image, dtype=np.uint8), path)


def read_image(path: str | Path, turned_ok: bool = True) -> np.ndarray:
    """Read an image as H×W×3 uint8 RGB, as every path of the kit and a hand-in's run.py do (`standalone.images`):
    upright by its EXIF orientation, transparency onto white, 16-bit greyscale scaled to 8 bits.

    `turned_ok=False` (an image with a mask) refuses an EXIF-turned image: its mask's pixels may follow the stored
    orientation or the shown one, and a wrong guess trains and scores a turned mask without any error.
    """
    image = _load(Path(path))
    if not turned_ok and exif_orientation(image) != 1:
        raise DatasetError(f"{path}: EXIF orientation {exif_orientation(image)} (stored turned or mirrored), so it is "
                           "unclear which way its mask is drawn; save the image upright without the tag")
    try:
        return upright_rgb(image)
    except (OSError, SyntaxError, ValueError) as err:  # a broken EXIF block
        raise DatasetError(f"{path}: unreadable image ({err})") from err


def require_same_size(image: np.ndarray, mask: np.ndarray, image_path: Path, mask_path: Path) -> None:
    """Raise DatasetError unless the image and mask have the same height and width."""
    if image.shape[:2] != mask.shape[:2]:
        raise DatasetError(
            f"{image_path}: image is {image.shape[1]}×{image.shape[0]} but its mask {Path(mask_path).name} is "
            f"{mask.shape[1]}×{mask.shape[0]}; expected the same size"
        )


def read_pair(image_path: Path, mask_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an image and its mask, refusing a pair whose sizes differ."""
    image, mask = read_image(image_path, turned_ok=False), read_mask(mask_path)
    require_same_size(image, mask, image_path, mask_path)
    return image, mask


def files_by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """Map stem -> path for the files in `folder` with one of `suffixes` (case-insensitive)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder not found")
    found = {p.stem: p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes}
    if not found:
        raise DatasetError(f"{folder}: no {'/'.join(suffixes)} files; expected a non-empty folder")
    return found


def image_files(root: str | Path, split: str) -> dict[str, Path]:
    """Stem -> path of one split's images."""
    return files_by_stem(images_dir(root, split), IMAGE_SUFFIXES)


def mask_files(root: str | Path, split: str) -> dict[str, Path]:
    """Stem -> path of one split's masks."""
    return files_by_stem(masks_dir(root, split), (MASK_SUFFIX,))


def pair_problems(images: dict[str, Path], masks: dict[str, Path]) -> list[str]:
    """One message for each image with no mask and each mask with no image (both maps non-empty)."""
    mask_folder, image_folder = next(iter(masks.values())).parent, next(iter(images.values())).parent
    problems = [f"{images[s]}: no mask {s}{MASK_SUFFIX} in {mask_folder}" for s in sorted(images.keys() - masks.keys())]
    problems += [f"{masks[s]}: mask has no image in {image_folder}" for s in sorted(masks.keys() - images.keys())]
    return problems


def list_pairs(root: str | Path, split: str) -> list[tuple[Path, Path]]:
    """The (image, mask) paths of one split of the course layout, sorted by name."""
    images, masks = image_files(root, split), mask_files(root, split)
    problems = pair_problems(images, masks)
    if problems:
        raise DatasetError(first_problem(problems))
    return [(images[s], masks[s]) for s in sorted(images)]
