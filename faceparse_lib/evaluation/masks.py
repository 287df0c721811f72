"""Predicted masks on disk: palette PNGs of class indices for a folder of images, overlays, and a zip to hand in."""

from __future__ import annotations

import logging
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from faceparse_lib.classes import mask_palette, overlay, remap_table
from faceparse_lib.data.layout import IMAGE_SUFFIXES, DatasetError, read_image
from faceparse_lib.standalone.images import mask_picture
from faceparse_lib.evaluation.inference import (MODEL_INPUT_SIZE, InputSize, as_lists, image_tensor, predict_probs,
                                                resolve_input_size)

log = logging.getLogger(__name__)


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
    return mask_picture(mask, mask_palette())


def save_png(picture: Image.Image, path: Path) -> Path:
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
    return save_png(mask_image(mask), path)


def output_folders(in_dir: str | Path, out_dir: str | Path,
                   overlay_dir: str | Path | None) -> tuple[Path, Path, Path | None]:
    """The three folders as paths, refused if masks or overlays would overwrite inputs or each other."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    overlay_dir = Path(overlay_dir) if overlay_dir is not None else None
    for other, name in ((out_dir, "output"), (overlay_dir, "overlay")):
        if other is not None and other.resolve() == in_dir.resolve():
            raise ValueError(f"{other}: the {name} folder is the input folder; masks would overwrite .png inputs")
    if overlay_dir is not None and overlay_dir.resolve() == out_dir.resolve():
        raise ValueError(f"{overlay_dir}: overlays and masks would share names; choose another overlay folder")
    return in_dir, out_dir, overlay_dir


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
    in_dir, out_dir, overlay_dir = output_folders(in_dir, out_dir, overlay_dir)
    paths, refused = list_images(in_dir)
    summary = PredictSummary(failed=list(refused))
    if device is not None:
        model.to(device)
    input_size = resolve_input_size(model, input_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    if overlay_dir is not None:
        overlay_dir.mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    loader = DataLoader(ImageFiles(paths), batch_size=batch_size, num_workers=workers, collate_fn=as_lists)
    with tqdm(total=len(paths), desc="predict", unit="img", disable=not progress) as bar:
        for indices, arrays, errors in loader:
            good = [(i, a) for i, a, e in zip(indices, arrays, errors) if e is None]
            summary.failed += [(paths[i], e) for i, e in zip(indices, errors) if e is not None]
            for batch in _same_shape_runs(good):
                images = torch.stack([image_tensor(a) for _, a in batch])
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
        summary.overlays.append(save_png(Image.fromarray(overlay(image, mask)), overlay_dir / f"{source.stem}.png"))


MASKS_FOLDER = "masks"  # the challenge's hand-in holds its masks in masks/ at the zip's top


def write_zip(files: dict[str, Path | bytes], zip_path: str | Path, compression: int = zipfile.ZIP_STORED) -> Path:
    """Write `files` (name in the archive -> file, or its bytes) into `zip_path` via a temporary file, so no half zip
    is ever left."""
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_name(f".{zip_path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=compression) as archive:
            for name, source in files.items():
                if isinstance(source, bytes):
                    archive.writestr(name, source)
                else:
                    archive.write(source, arcname=name)
        os.replace(tmp, zip_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return zip_path


def zip_masks(masks: Sequence[str | Path], zip_path: str | Path, folder: str = MASKS_FOLDER) -> Path:
    """Pack mask files into `zip_path` as FOLDER/STEM.png (the challenge's masks/; "" packs them flat), atomically."""
    names = [Path(m).name for m in masks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{zip_path}: several masks named {', '.join(duplicates)}; one folder needs unique names")
    # PNGs are compressed already: storing them is as small and much faster.
    return write_zip({f"{folder}/{Path(m).name}" if folder else Path(m).name: Path(m) for m in masks}, zip_path)
