"""Per-class pixel statistics of label masks and the class weights a weighted loss derives from them."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence, Union

import numpy as np

from faceparse_lib.classes import CLASSES, IGNORE_INDEX, NUM_CLASSES, class_names
from faceparse_lib.data.layout import MASK_SUFFIX, files_by_stem, read_mask
from faceparse_lib.data.parallel import parallel_map_unordered, resolve_workers

if TYPE_CHECKING:  # torch and pandas load only when weights or tables are asked for, not to count pixels
    import pandas as pd
    import torch

log = logging.getLogger(__name__)

# Shipped inside the package, so a plain (non-editable) install can still show the report's table.
REFERENCE_COUNTS_CSV = Path(__file__).resolve().with_name("reference_counts.csv")

# A folder of masks, a list of mask paths, or anything with `mask_paths` (a FaceParsingDataset).
Masks = Union[str, Path, Iterable[Union[str, Path]]]

# Below this many masks a process pool costs more to start than it saves.
_MIN_MASKS_PER_WORKER = 16
_MAX_CHUNK = 64


@dataclass
class PixelCounts:
    """Per-class pixel statistics of a set of masks; IGNORE_INDEX pixels are counted apart, never as a class.

    `np.asarray(counts)` gives `pixels`, so a PixelCounts goes wherever an int64[19] of pixel counts does.
    """

    pixels: np.ndarray  # int64[C]: pixels of each class
    images: np.ndarray  # int64[C]: masks in which each class appears
    present_pixels: np.ndarray  # int64[C]: labelled pixels of the masks in which each class appears
    n_images: int = 0
    ignored: int = 0  # IGNORE_INDEX pixels

    @classmethod
    def zeros(cls, num_classes: int = NUM_CLASSES) -> PixelCounts:
        """Empty statistics for `num_classes` classes."""
        return cls(*(np.zeros(num_classes, dtype=np.int64) for _ in range(3)))

    @property
    def total(self) -> int:
        """Labelled pixels: the sum over classes, ignore pixels left out."""
        return int(self.pixels.sum())

    @property
    def frequency(self) -> np.ndarray:
        """Share of the labelled pixels held by each class (float64, sums to 1)."""
        return self.pixels / max(self.total, 1)

    def __add__(self, other: PixelCounts) -> PixelCounts:
        return PixelCounts(
            self.pixels + other.pixels,
            self.images + other.images,
            self.present_pixels + other.present_pixels,
            self.n_images + other.n_images,
            self.ignored + other.ignored,
        )

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        return self.pixels if dtype is None else self.pixels.astype(dtype)

    def to_frame(self) -> pd.DataFrame:
        """One row per class: name, pixels, share of labelled pixels, images containing it and their share."""
        import pandas as pd

        frame = pd.DataFrame(
            {
                "name": class_names(len(self.pixels)),
                "pixels": self.pixels,
                "share": self.frequency,
                "images": self.images,
                "image_share": self.images / max(self.n_images, 1),
            }
        )
        frame.index.name = "class"
        return frame


def label_histogram(mask: np.ndarray) -> np.ndarray:
    """Pixel count of every value 0..255 in a uint8 mask (int64[256])."""
    flat = mask.ravel()
    if flat.size < 2:
        return np.bincount(flat, minlength=256)
    # Masks are mostly long runs of one label; bincount on them stalls on a single counter, so count runs
    # instead, unless the mask is noisy enough that plain bincount is the faster of the two.
    starts = np.flatnonzero(flat[1:] != flat[:-1])
    if starts.size > flat.size // 16:
        return np.bincount(flat, minlength=256)
    bounds = np.concatenate(([0], starts + 1, [flat.size]))
    return np.bincount(flat[bounds[:-1]], weights=np.diff(bounds), minlength=256).astype(np.int64)


def histogram_counts(histograms: np.ndarray) -> PixelCounts:
    """Statistics of a set of masks from their label histograms (one int64[256] row per mask)."""
    histograms = np.asarray(histograms, dtype=np.int64).reshape(-1, 256)
    pixels = histograms[:, :NUM_CLASSES]
    present = pixels > 0
    return PixelCounts(
        pixels=pixels.sum(axis=0),
        images=present.sum(axis=0, dtype=np.int64),
        present_pixels=(present * pixels.sum(axis=1, keepdims=True)).sum(axis=0),
        n_images=len(histograms),
        ignored=int(histograms[:, IGNORE_INDEX].sum()),
    )


def count_files(paths: list[Path]) -> PixelCounts:
    """Statistics of some mask files, read in this process, with the dataset's errors for a bad mask."""
    return histogram_counts([label_histogram(read_mask(path)) for path in paths])


def mask_paths(masks: Masks) -> list[Path]:
    """The mask files behind a masks folder, an iterable of paths, or a dataset's `mask_paths` (FaceParsingDataset)."""
    if hasattr(masks, "mask_paths"):
        return list(masks.mask_paths)
    if isinstance(masks, (str, Path)):
        return sorted(files_by_stem(Path(masks), (MASK_SUFFIX,)).values())
    return [Path(p) for p in masks]


def count_pixels(masks: Masks, workers: int | None = None, progress: bool = False) -> PixelCounts:
    """Per-class pixel counts and images per class over a masks folder, a list of mask paths or a FaceParsingDataset.

    For a split of the course layout pass the folder `root/split/masks` or `FaceParsingDataset(root, split)` (the
    files it would train on; its transform is not applied). A bad mask raises DatasetError naming the file.
    `workers` processes share the files (see `parallel.resolve_workers`; 1 counts in this process).
    """
    from tqdm.auto import tqdm

    paths = mask_paths(masks)
    workers = resolve_workers(workers, len(paths), _MIN_MASKS_PER_WORKER)
    size = max(1, min(_MAX_CHUNK, math.ceil(len(paths) / (4 * workers))))
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    total = PixelCounts.zeros()
    with tqdm(total=len(paths), desc="count pixels", unit="mask", disable=not progress, leave=False) as bar:
        for counts in parallel_map_unordered(count_files, chunks, workers):
            total = total + counts
            bar.update(counts.n_images)
    return total


def _log2_weights(pixels: np.ndarray, present_pixels: np.ndarray) -> np.ndarray:
    return np.log2(pixels.sum() / pixels)


def _inverse_weights(pixels: np.ndarray, present_pixels: np.ndarray) -> np.ndarray:
    return pixels.sum() / (len(pixels) * pixels)


def _median_weights(pixels: np.ndarray, present_pixels: np.ndarray) -> np.ndarray:
    frequency = pixels / present_pixels
    return np.median(frequency[pixels > 0]) / frequency


def _enet_weights(pixels: np.ndarray, present_pixels: np.ndarray) -> np.ndarray:
    return 1.0 / np.log(1.02 + pixels / pixels.sum())


# name -> (rule, one-line description); n_c = pixels of class c, N = labelled pixels, C = number of classes.
WEIGHT_METHODS: dict[str, tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], str]] = {
    "log2": (_log2_weights, "log2(N / n_c), the seed report's rule"),
    "inverse": (_inverse_weights, "N / (C * n_c), inverse frequency scaled so balanced classes weigh 1"),
    "median": (
        _median_weights,
        "median(f) / f_c with f_c = n_c / labelled pixels of the images containing c (Eigen & Fergus, 2015)",
    ),
    "enet": (_enet_weights, "1 / ln(1.02 + n_c / N) (Paszke et al., ENet, 2016)"),
}
MISSING_POLICIES = ("max", "zero", "error")


def class_weights(
    counts: PixelCounts | np.ndarray | torch.Tensor | Iterable[int],
    method: str = "log2",
    missing: str = "max",
) -> torch.Tensor:
    """Loss weights in class order (float32) from pixel counts, by one of WEIGHT_METHODS.

    `counts` is a PixelCounts or plain per-class pixel counts. "median" needs per-image presence; from plain
    counts it falls back to f_c = n_c / N. A class with no pixels has no frequency, so every rule would give it
    inf; instead `missing` decides: "max" (default) gives it the largest weight of the classes present,
    "zero" gives it 0 (it never occurs as a target in these masks), "error" raises ValueError.
    """
    if method not in WEIGHT_METHODS:
        raise ValueError(f"unknown class-weight method {method!r}; choose from {', '.join(WEIGHT_METHODS)}")
    if missing not in MISSING_POLICIES:
        raise ValueError(f"unknown missing-class policy {missing!r}; choose from {', '.join(MISSING_POLICIES)}")
    pixels, present_pixels = _as_counts(counts)
    if pixels.sum() == 0:
        raise ValueError("no labelled pixels in the counts; cannot weight classes")
    absent = pixels == 0
    weights = np.zeros(len(pixels), dtype=np.float64)
    rule = WEIGHT_METHODS[method][0]
    with np.errstate(divide="ignore", invalid="ignore"):  # absent classes: replaced just below
        weights[~absent] = rule(pixels, present_pixels)[~absent]
    if absent.any():
        names = ", ".join(_class_name(c, len(pixels)) for c in np.flatnonzero(absent))
        if missing == "error":
            raise ValueError(f"no pixels of class {names}; no {method} weight exists (pass missing='max' or 'zero')")
        weights[absent] = weights[~absent].max() if missing == "max" else 0.0
        log.warning("class %s has no pixels; weight set to %.4f (missing=%r)", names, weights[absent][0], missing)
    import torch

    return torch.from_numpy(weights).float()


def _as_counts(counts: PixelCounts | np.ndarray | torch.Tensor | Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    """(pixels, present_pixels) as float64 arrays; plain counts use the total as every class's denominator."""
    if isinstance(counts, PixelCounts):
        return counts.pixels.astype(np.float64), counts.present_pixels.astype(np.float64)
    if hasattr(counts, "detach"):  # a torch.Tensor; checked without importing torch
        counts = counts.detach().cpu().numpy()
    pixels = np.asarray(counts, dtype=np.float64)
    if pixels.ndim != 1 or pixels.size == 0:
        raise ValueError(f"expected one pixel count per class, got an array of shape {pixels.shape}")
    if not np.all(np.isfinite(pixels)) or (pixels < 0).any():
        raise ValueError("pixel counts must be finite and non-negative")
    return pixels, np.full_like(pixels, pixels.sum())


def _class_name(index: int, num_classes: int) -> str:
    name = class_names(num_classes)[index]
    return f"{index} ({name})" if name != str(index) else name


def reference_counts(path: str | Path | None = None) -> pd.DataFrame:
    """The seed report's counts on its 5,000 training masks: name, pixels, report_weight, indexed by class."""
    import pandas as pd

    path = Path(path) if path is not None else REFERENCE_COUNTS_CSV
    if not path.is_file():
        raise FileNotFoundError(f"{path}: reference counts not found; expected faceparse_lib/data/reference_counts.csv")
    frame = pd.read_csv(path, index_col="class")
    expected = ["name", "pixels", "report_weight"]
    if list(frame.columns) != expected or list(frame.index) != list(range(NUM_CLASSES)):
        raise ValueError(f"{path}: expected columns class,{','.join(expected)} and rows 0..{NUM_CLASSES - 1}")
    if tuple(frame["name"]) != CLASSES:
        raise ValueError(f"{path}: class names {tuple(frame['name'])} differ from faceparse_lib.classes.CLASSES")
    return frame


def masks_fingerprint(masks: Sequence[str | Path]) -> dict:
    """Which masks were counted: their number and a hash of their sorted stems (the same set gives the same record)."""
    import hashlib

    stems = sorted(Path(m).stem for m in masks)
    return {"masks": len(stems), "stems_sha1": hashlib.sha1("\n".join(stems).encode()).hexdigest()}


def weights_record(counts: PixelCounts, weights: list[float], method: str, missing: str,
                   masks: Sequence[str | Path] | None = None) -> dict:
    """A JSON-ready record of class weights with the method and statistics they came from, in class order.

    `masks`, the files counted, are recorded by `masks_fingerprint`, so a run can tell weights counted on other
    masks (a holdout included) from its own.
    """
    return {
        **({"counted_on": masks_fingerprint(masks)} if masks is not None else {}),
        "method": method,
        "missing": missing,
        "n_images": counts.n_images,
        "labelled_pixels": counts.total,
        "ignored_pixels": counts.ignored,
        "classes": list(counts.to_frame()["name"]),
        "pixels": counts.pixels.tolist(),
        "images": counts.images.tolist(),
        "weights": weights,
    }
