"""Scoring a model on a dataset and predicting masks to hand in, with left/right-aware flip and multi-scale TTA.

Every prediction goes through `predict_probs`: images in [0, 1] are normalised, resized for the model, run
(mirrored and/or at several scales for TTA) and the class probabilities resized back to the size asked for, so
scores are always taken at each mask's own resolution.
"""

from __future__ import annotations

import contextlib
import logging
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from faceparse_lib.classes import FLIP_PAIRS, IGNORE_COLOR, IGNORE_INDEX, NUM_CLASSES, PALETTE, remap_table
from faceparse_lib.data import IMAGE_SUFFIXES, DatasetError, read_image
from faceparse_lib.metrics import ConfusionMatrix
from faceparse_lib.ops import resize
from faceparse_lib.transforms import normalize

log = logging.getLogger(__name__)

TTA_MODES = (None, "flip")
# input_size's default: the side the model was trained at (`model.input_size`, set by load_checkpoint).
MODEL_INPUT_SIZE = "model"
InputSize = int | None | str
# Slack for images resized with antialiasing or stored as float16 before they reach us.
_RANGE_TOLERANCE = 1e-3


# ---------------------------------------------------------------------------------------------------------------
# The shared step: image batch -> class probabilities at a target size


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CPU for a model without either."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put the model in eval mode for the block, then restore each module's own training flag."""
    flags = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags.items():
            module.train(training)


def flip_back(output: torch.Tensor, flip_pairs: Sequence[tuple[int, int]] = FLIP_PAIRS) -> torch.Tensor:
    """Mirror N×C×H×W scores of a mirrored image back AND swap the left/right class channels.

    The mirror of a left eye is a right eye: mirroring the output back without the swap would score the
    image's left eye as a right eye.
    """
    order = list(range(output.shape[1]))
    for left, right in flip_pairs:
        if max(left, right) >= len(order):
            raise ValueError(f"flip pair ({left}, {right}) does not fit {len(order)} output channels")
        order[left], order[right] = right, left
    return output.flip(-1)[:, order]


def require_unnormalised(images: torch.Tensor) -> None:
    """Raise ValueError unless `images` are float N×3×H×W (or 3×H×W) values in [0, 1], as FaceParsingDataset yields."""
    if not images.is_floating_point():
        raise ValueError(f"images have dtype {images.dtype}; expected float images in [0, 1] as FaceParsingDataset yields")
    if images.ndim not in (3, 4) or images.shape[-3] != 3:
        raise ValueError(f"images of shape {tuple(images.shape)}; expected 3×H×W or N×3×H×W")
    low, high = (float(v) for v in torch.aminmax(images))
    if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        raise ValueError(
            f"images hold values in [{low:.2f}, {high:.2f}]; expected unnormalised images in [0, 1] as "
            "FaceParsingDataset yields them. They look already normalised (or 0..255): evaluation normalises "
            "itself, so drop normalize from the dataset's transform"
        )


def _resize_image(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear, antialiased resize of N×3×H×W images: the same resampling training used (batches.resize_pair)."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False)


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """A size times `scale`, rounded as mmsegmentation does (int(x * s + 0.5)), at least 1 pixel."""
    return tuple(max(1, int(side * scale + 0.5)) for side in size)  # type: ignore[return-value]


def resolve_input_size(model: nn.Module, input_size: InputSize) -> int | None:
    """The side images are resized to: the model's trained size for "model", None for each image's own size."""
    if input_size == MODEL_INPUT_SIZE:
        return getattr(model, "input_size", None)
    if input_size is not None and (not isinstance(input_size, int) or input_size < 1):
        raise ValueError(f"input_size {input_size!r}: expected a side in pixels, None (each image's own size) or 'model'")
    return input_size


def _forward(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Logits N×C×H×W from a kit model ({"out": logits}) or from a model returning the logits themselves."""
    output = model(images)
    return output["out"] if isinstance(output, dict) else output


def predict_probs(
    model: nn.Module,
    images: torch.Tensor,
    out_size: tuple[int, int] | torch.Size,
    tta: str | None = None,
    scales: Sequence[float] | None = None,
    input_size: int | None = None,
) -> torch.Tensor:
    """Class probabilities N×C×out_h×out_w for float images N×3×H×W in [0, 1] (unnormalised), on the model's device.

    The images are normalised and resized to input_size×input_size (if set; else kept at their own size), times
    each of `scales`; `tta="flip"` adds each view's mirror, its output mirrored back with the left/right channels
    swapped. Every output's logits are resized (bilinear) to `out_size`, turned into softmax probabilities and
    averaged, as mmsegmentation's test-time augmentation does: probabilities share one scale across views, where a
    confident view's large logits would otherwise outvote the rest.
    """
    if tta not in TTA_MODES:
        raise ValueError(f"unknown tta {tta!r}; choose from None or 'flip'")
    if scales is not None and (len(scales) == 0 or min(scales) <= 0):
        raise ValueError(f"scales {tuple(scales)}: expected one or more positive factors, e.g. (0.75, 1.0, 1.25)")
    if images.ndim == 3:
        images = images[None]
    require_unnormalised(images)
    device = model_device(model)
    out_size = tuple(int(s) for s in out_size)
    base = (input_size, input_size) if input_size else tuple(images.shape[-2:])
    total: torch.Tensor | None = None
    views = 0
    with eval_mode(model), torch.inference_mode():
        images = images.to(device, torch.float32, non_blocking=True)
        for scale in scales or (1.0,):
            scaled = normalize(_resize_image(images, _scaled(base, scale)))
            for mirrored in (False, True) if tta == "flip" else (False,):
                logits = _forward(model, scaled.flip(-1) if mirrored else scaled)
                if mirrored:
                    logits = flip_back(logits)
                probs = resize(logits.float(), out_size).softmax(dim=1)
                total = probs if total is None else total.add_(probs)
                views += 1
        assert total is not None
        return total.div_(views)


def predict_image(
    model: nn.Module,
    image: np.ndarray | torch.Tensor,
    tta: str | None = None,
    scales: Sequence[float] | None = None,
    input_size: InputSize = MODEL_INPUT_SIZE,
) -> np.ndarray:
    """The H×W uint8 class-index mask of one image (H×W×3 uint8 array, or float 3×H×W tensor in [0, 1]).

    `input_size` as in `evaluate`.
    """
    tensor = _image_tensor(image)
    probs = predict_probs(model, tensor[None], tensor.shape[-2:], tta, scales, resolve_input_size(model, input_size))
    return probs[0].argmax(dim=0).to(torch.uint8).cpu().numpy()


def _image_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A float 3×H×W tensor in [0, 1] from an H×W×3 uint8 array or such a tensor."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image array of shape {image.shape} and dtype {image.dtype}; expected H×W×3 uint8 RGB")
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255)
    return image


def same_size_batches(
    images: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Stack runs of consecutive (image, mask) pairs of equal sizes (on a course set: the whole batch)."""
    start = 0
    for end in range(1, len(images) + 1):
        if end == len(images) or images[end].shape != images[start].shape or masks[end].shape != masks[start].shape:
            yield torch.stack(list(images[start:end])), torch.stack(list(masks[start:end]))
            start = end


def _as_lists(batch: list[tuple]) -> tuple[list, ...]:
    """Collate into lists (sizes may differ); module-level so DataLoader workers can pickle it."""
    return tuple(list(items) for items in zip(*batch))


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


def evaluate(
    model: nn.Module,
    dataset: Dataset,
    tta: str | None = None,
    scales: Sequence[float] | None = None,
    input_size: InputSize = MODEL_INPUT_SIZE,
    batch_size: int = 4,
    workers: int = 0,
    progress: bool = False,
    device: str | torch.device | None = None,
) -> ConfusionMatrix:
    """The dataset-level confusion matrix of `model` on (image in [0, 1], mask) pairs, scored at each mask's size.

    Runs on the model's device (moved to `device` first, if given). Images are resized to `input_size` squared:
    by default "model", the size the model was trained at (`model.input_size`, set by load_checkpoint; a model
    without one runs each image at its own size); None runs each image at its own size whatever the model says.
    """
    if device is not None:
        model.to(device)
    device = model_device(model)
    input_size = resolve_input_size(model, input_size)
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise ValueError(f"{dataset!r} is empty; nothing to evaluate")
    from tqdm.auto import tqdm

    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=_as_lists,
                        pin_memory=device.type == "cuda")
    matrix: ConfusionMatrix | None = None
    description = "evaluate" + (f" {tta}" if tta else "") + (" multi-scale" if scales else "")
    with tqdm(total=len(dataset), desc=description, unit="img", disable=not progress) as bar:  # type: ignore[arg-type]
        for images, masks in loader:
            for image_batch, mask_batch in same_size_batches(images, masks):
                probs = predict_probs(model, image_batch, mask_batch.shape[-2:], tta, scales, input_size)
                if matrix is None:
                    matrix = ConfusionMatrix(probs.shape[1], device=device)
                matrix.update(probs, mask_batch.to(device, non_blocking=True))
            bar.update(len(images))
    assert matrix is not None
    log.info("evaluated %d images: %r", len(dataset), matrix)  # type: ignore[arg-type]
    return matrix


# ---------------------------------------------------------------------------------------------------------------
# Prediction for hand-in


@dataclass
class PredictSummary:
    """What `predict_folder` did: masks (and overlays) written, and each input it could not use, with the reason."""

    masks: list[Path] = field(default_factory=list)
    overlays: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def mask_image(mask: np.ndarray) -> Image.Image:
    """An H×W class-index mask as a palette ("P") PIL image: indices as stored values, kit colours for viewers."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"mask of shape {mask.shape} and dtype {mask.dtype}; expected H×W uint8 class indices")
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[:NUM_CLASSES] = PALETTE
    palette[IGNORE_INDEX] = IGNORE_COLOR
    picture = Image.fromarray(mask)  # uint8 H×W -> mode L
    picture.putpalette(palette.ravel().tolist())  # turns the L image into P, keeping the stored indices
    return picture


def _save_atomically(picture: Image.Image, path: Path) -> Path:
    """Save a PIL image as PNG via a temporary file and a rename, so a crash never leaves half a file at `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        picture.save(tmp, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_mask(mask: np.ndarray, path: str | Path) -> Path:
    """Write an H×W uint8 class-index mask as a palette PNG (reads back through data.read_mask), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _save_atomically(mask_image(mask), path)


def list_images(folder: str | Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The images in `folder` (sorted), and the ones refused because another image already has their stem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder not found")
    images: dict[str, Path] = {}
    refused: list[tuple[Path, str]] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            log.info("%s: skipped, not a %s image", path, "/".join(IMAGE_SUFFIXES))
        elif path.stem in images:
            refused.append((path, f"{path}: same stem as {images[path.stem].name}; masks are named by stem"))
        else:
            images[path.stem] = path
    if not images:
        raise DatasetError(f"{folder}: no {'/'.join(IMAGE_SUFFIXES)} images; expected a folder of face photos")
    return list(images.values()), refused


class ImageFiles(Dataset):
    """Images read from a list of paths as (index, H×W×3 uint8 array or None, error message or None)."""

    def __init__(self, paths: Sequence[Path]):
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, np.ndarray | None, str | None]:
        try:
            return index, read_image(self.paths[index]), None
        except DatasetError as err:  # reported by name; the other images are still predicted
            return index, None, str(err)


def predict_folder(
    model: nn.Module,
    in_dir: str | Path,
    out_dir: str | Path,
    tta: str | None = None,
    scales: Sequence[float] | None = None,
    input_size: InputSize = MODEL_INPUT_SIZE,
    overlay_dir: str | Path | None = None,
    batch_size: int = 4,
    workers: int = 0,
    progress: bool = False,
    device: str | torch.device | None = None,
    label_order: str = "celebamask",
) -> PredictSummary:
    """One palette PNG of class indices per image of `in_dir`, same stem, at the image's own size, in `out_dir`.

    Optional colour overlays go to `overlay_dir`. An unreadable image is logged and listed in the summary's
    `failed`; the others are still predicted. `input_size` as in `evaluate`. Masks are numbered in `label_order`
    (a `classes.LABEL_ORDERS` name; overlays keep the kit's colours).
    """
    to_order = remap_table("celebamask", label_order)  # refuses an unknown order before any work
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    overlay_dir = Path(overlay_dir) if overlay_dir is not None else None
    for other, name in ((out_dir, "output"), (overlay_dir, "overlay")):
        if other is not None and other.resolve() == in_dir.resolve():
            raise ValueError(f"{other}: the {name} folder is the input folder; masks would overwrite .png inputs")
    if overlay_dir is not None and overlay_dir.resolve() == out_dir.resolve():
        raise ValueError(f"{overlay_dir}: overlays and masks would share names; choose another overlay folder")
    paths, refused = list_images(in_dir)
    summary = PredictSummary(failed=list(refused))
    if device is not None:
        model.to(device)
    input_size = resolve_input_size(model, input_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    if overlay_dir is not None:
        overlay_dir.mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    loader = DataLoader(ImageFiles(paths), batch_size=batch_size, num_workers=workers, collate_fn=_as_lists)
    with tqdm(total=len(paths), desc="predict", unit="img", disable=not progress) as bar:
        for indices, arrays, errors in loader:
            good = [(i, a) for i, a, e in zip(indices, arrays, errors) if e is None]
            summary.failed += [(paths[i], e) for i, e in zip(indices, errors) if e is not None]
            for batch in _same_shape_runs(good):
                images = torch.stack([_image_tensor(a) for _, a in batch])
                probs = predict_probs(model, images, images.shape[-2:], tta, scales, input_size)
                masks = probs.argmax(dim=1).to(torch.uint8).cpu().numpy()
                for (index, array), mask in zip(batch, masks):
                    _write_outputs(paths[index], array, mask, out_dir, overlay_dir, summary, to_order)
            bar.update(len(indices))
    for path, reason in summary.failed:
        log.error("%s", reason)
    log.info("predicted %d masks into %s (%d inputs failed)", len(summary.masks), out_dir, len(summary.failed))
    return summary


def _same_shape_runs(items: list[tuple[int, np.ndarray]]) -> Iterator[list[tuple[int, np.ndarray]]]:
    """Runs of consecutive (index, image) items whose images have equal shapes."""
    run: list[tuple[int, np.ndarray]] = []
    for item in items:
        if run and run[0][1].shape != item[1].shape:
            yield run
            run = []
        run.append(item)
    if run:
        yield run


def _write_outputs(source: Path, image: np.ndarray, mask: np.ndarray, out_dir: Path, overlay_dir: Path | None,
                   summary: PredictSummary, to_order: np.ndarray | None = None) -> None:
    """Write one image's mask (renumbered by the `to_order` lookup table, if any) and overlay; record them."""
    written = mask if to_order is None else to_order[mask]
    summary.masks.append(write_mask(written, out_dir / f"{source.stem}.png"))
    if overlay_dir is not None:
        from faceparse_lib.plots import overlay

        summary.overlays.append(_save_atomically(Image.fromarray(overlay(image, mask)), overlay_dir / f"{source.stem}.png"))


def zip_masks(masks: Sequence[str | Path], zip_path: str | Path) -> Path:
    """Pack mask files flat (stem.png at the archive's top level) into `zip_path`, atomically; ready to hand in."""
    zip_path = Path(zip_path)
    names = [Path(m).name for m in masks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{zip_path}: several masks named {', '.join(duplicates)}; a flat archive needs unique names")
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_name(f".{zip_path.name}.{os.getpid()}.tmp")
    try:
        # PNGs are compressed already: storing them is as small and much faster.
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for mask in masks:
                archive.write(mask, arcname=Path(mask).name)
        os.replace(tmp, zip_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return zip_path
