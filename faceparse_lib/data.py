"""Reading the course layout: images and label masks, with clear errors for every bad input."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from faceparse_lib.classes import IGNORE_INDEX, NUM_CLASSES

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MASK_SUFFIX = ".png"
SPLITS = ("train", "val", "test")

# Mask modes that hold class indices directly: 8-bit greyscale and 8-bit palette (the index is the label).
_INDEX_MODES = {"L", "P"}


class DatasetError(ValueError):
    """A file or folder that does not match the course layout; the message names it and says what was expected."""


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


def invalid_labels(mask: np.ndarray) -> np.ndarray:
    """The sorted distinct values of `mask` outside 0..18 and 255."""
    if mask.size == 0 or int(mask.max()) < NUM_CLASSES:
        return np.empty(0, dtype=mask.dtype)
    # Masks padded with ignore pixels land here on every read: select first, sort only what is left.
    return np.unique(mask[(mask >= NUM_CLASSES) & (mask != IGNORE_INDEX)])


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


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as H×W×3 uint8 RGB (greyscale, palette and RGBA are converted)."""
    image = _load(Path(path))
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.array(image)


def read_pair(image_path: Path, mask_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an image and its mask, refusing a pair whose sizes differ."""
    image, mask = read_image(image_path), read_mask(mask_path)
    require_same_size(image, mask, image_path, mask_path)
    return image, mask


def require_same_size(image: np.ndarray, mask: np.ndarray, image_path: Path, mask_path: Path) -> None:
    """Raise DatasetError unless the image and mask have the same height and width."""
    if image.shape[:2] != mask.shape[:2]:
        raise DatasetError(
            f"{image_path}: image is {image.shape[1]}×{image.shape[0]} but its mask {Path(mask_path).name} is "
            f"{mask.shape[1]}×{mask.shape[0]}; expected the same size"
        )


def files_by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """Map stem -> path for the files in `folder` with one of `suffixes` (case-insensitive)."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder not found")
    found = {p.stem: p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes}
    if not found:
        raise DatasetError(f"{folder}: no {'/'.join(suffixes)} files; expected a non-empty folder")
    return found


def _pair_problems(images: dict[str, Path], masks: dict[str, Path]) -> list[str]:
    """One message for each image with no mask and each mask with no image."""
    problems = [f"{images[s]}: no mask {s}{MASK_SUFFIX} in {next(iter(masks.values())).parent}" for s in sorted(images.keys() - masks.keys())]
    problems += [f"{masks[s]}: mask has no image in {next(iter(images.values())).parent}" for s in sorted(masks.keys() - images.keys())]
    return problems


def list_pairs(root: str | Path, split: str) -> list[tuple[Path, Path]]:
    """The (image, mask) paths of one split of the course layout, sorted by name."""
    split_dir = Path(root) / split
    images = files_by_stem(split_dir / "images", IMAGE_SUFFIXES)
    masks = files_by_stem(split_dir / "masks", (MASK_SUFFIX,))
    problems = _pair_problems(images, masks)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DatasetError(problems[0] + more)
    return [(images[s], masks[s]) for s in sorted(images)]


def to_tensors(image: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """H×W×3 uint8 image and H×W mask -> float32 C×H×W in [0, 1] and int64 H×W."""
    image_t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255)
    return image_t, torch.from_numpy(np.ascontiguousarray(mask)).long()


class FaceParsingDataset(torch.utils.data.Dataset):
    """One split of the course layout as (image float32 C×H×W, mask int64 H×W) pairs."""

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transform: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> None:
        self.root, self.split, self.transform = Path(root), split, transform
        self.pairs = list_pairs(self.root, split)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = to_tensors(*read_pair(*self.pairs[index]))
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask

    def __repr__(self) -> str:
        return f"FaceParsingDataset(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"


@dataclass
class SplitReport:
    """What `check_dataset` found in one split."""

    split: str
    images: int = 0
    masks: int = 0
    sizes: Counter = field(default_factory=Counter)
    label_pixels: np.ndarray = field(default_factory=lambda: np.zeros(256, dtype=np.int64))


@dataclass
class CheckReport:
    """Counts, sizes, label histogram and every problem found in a dataset root."""

    root: Path
    splits: list[SplitReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        """A plain-text report for the terminal or a notebook: counts, sizes, label shares, problems."""
        from faceparse_lib.classes import CLASSES

        lines = [f"dataset {self.root}"]
        for s in self.splits:
            sizes = ", ".join(f"{w}×{h}: {n}" for (w, h), n in s.sizes.most_common())
            lines.append(f"  {s.split}: {s.images} images, {s.masks} masks; sizes {sizes or '-'}")
        labelled = [s for s in self.splits if s.label_pixels.sum()]
        if labelled:
            lines.append("  pixel share per class (%):")
            lines.append("    " + f"{'class':<12}" + "".join(f"{s.split:>9}" for s in labelled))
            names = [(c, CLASSES[c]) for c in range(NUM_CLASSES)] + [(IGNORE_INDEX, "ignore (255)")]
            for index, name in names:
                shares = [100 * s.label_pixels[index] / s.label_pixels.sum() for s in labelled]
                if index != IGNORE_INDEX or any(shares):
                    lines.append("    " + f"{name:<12}" + "".join(f"{v:9.3f}" for v in shares))
        lines.append(f"{len(self.problems)} problem(s)" + (":" if self.problems else ""))
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def _check_split(root: Path, split: str, report: CheckReport, progress: bool) -> None:
    from tqdm.auto import tqdm

    split_dir = root / split
    result = SplitReport(split)
    report.splits.append(result)
    try:
        images = files_by_stem(split_dir / "images", IMAGE_SUFFIXES)
    except DatasetError as err:
        report.problems.append(str(err))
        return
    masks: dict[str, Path] = {}
    if split != "test" or (split_dir / "masks").exists():
        try:
            masks = files_by_stem(split_dir / "masks", (MASK_SUFFIX,))
        except DatasetError as err:
            report.problems.append(str(err))
        else:
            report.problems += _pair_problems(images, masks)
    result.images, result.masks = len(images), len(masks)
    for stem in tqdm(sorted(images), desc=f"check {split}", disable=not progress, leave=False):
        try:
            image = read_image(images[stem])
            result.sizes[(image.shape[1], image.shape[0])] += 1
            if stem in masks:
                mask = read_mask(masks[stem])
                require_same_size(image, mask, images[stem], masks[stem])
                result.label_pixels += np.bincount(mask.ravel(), minlength=256)
        except DatasetError as err:
            report.problems.append(str(err))
    for stem in sorted(masks.keys() - images.keys()):
        try:
            read_mask(masks[stem])
        except DatasetError as err:
            report.problems.append(str(err))


def check_dataset(root: str | Path, splits: tuple[str, ...] | None = None, progress: bool = False) -> CheckReport:
    """Walk every split under `root` and report counts, sizes, label histogram and all problems found."""
    root = Path(root)
    report = CheckReport(root)
    if not root.is_dir():
        report.problems.append(f"{root}: folder not found")
        return report
    if splits is None:
        splits = tuple(s for s in SPLITS if (root / s).is_dir())
        if not splits:
            report.problems.append(f"{root}: no train/, val/ or test/ folder; expected the course layout")
            return report
    for split in splits:
        _check_split(root, split, report, progress)
    return report
