"""Parse an arbitrary photo: find each face, frame it as the training faces are framed, parse it, paste it back.

A model trained on aligned CelebA-HQ faces sees nonsense in a phone photo taken as it is. `parse_photo` cuts a
CelebA-HQ-like square around every detected face (`data.faces`), parses each at the model's input size, and
pastes the labels back into one label map at the photo's own size; pixels outside every crop are background.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from faceparse_lib.classes import overlay, remap_table
from faceparse_lib.data.faces import DEFAULT_FRAMING, FaceBox, Framing, cut_square, detect_faces, read_photo
from faceparse_lib.data.layout import DatasetError
from faceparse_lib.evaluation.inference import MODEL_INPUT_SIZE, image_tensor, predict_probs, resolve_input_size
from faceparse_lib.evaluation.masks import PredictSummary, list_images, output_folders, save_png, write_mask
from faceparse_lib.standalone.images import to_rgb, upright_rgb

log = logging.getLogger(__name__)

MAX_PASTE_SIDE = 1024  # class probabilities are resized to at most this side, the labels then upscaled: a 12 MP
# photo's 19 probability maps would take gigabytes
# A face crop is a CelebA-HQ frame: a model trained at each image's own size (input_size None, the challenge's)
# saw 512 px faces, so that is the size it parses one at; never a crop's own 60 or 2,000 px.
FACE_SIDE = 512
BOX_COLOUR, CROP_COLOUR = (0, 255, 0), (255, 255, 0)

Detector = Callable[[np.ndarray], Sequence[FaceBox]]


class NoFaceFound(DatasetError):
    """The detector found no face in a photo."""


@dataclass(frozen=True)
class Face:
    """One parsed face: the detector's box and the square crop that was parsed, both in photo pixels."""

    box: FaceBox
    crop: FaceBox


def as_photo(photo: np.ndarray | Image.Image | str | Path) -> np.ndarray:
    """An H×W×3 uint8 RGB array from an array, an opened PIL image or a file (the last two turned upright by EXIF).

    Greyscale (H×W) and RGBA (H×W×4) uint8 arrays are converted, transparency onto white.
    """
    if isinstance(photo, (str, Path)):
        return read_photo(photo)
    if isinstance(photo, Image.Image):
        return upright_rgb(photo)
    image = np.asarray(photo)
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ValueError(f"photo of shape {image.shape} and dtype {image.dtype}; expected uint8 RGB (H×W×3), "
                         "greyscale (H×W) or RGBA (H×W×4)")
    return image if image.ndim == 3 and image.shape[2] == 3 else to_rgb(Image.fromarray(image))


def _parse(model: nn.Module, image: np.ndarray, input_size: int | None, tta: str | None) -> np.ndarray:
    """Class indices of an image at its own size, the model run at `input_size`."""
    height, width = image.shape[:2]
    factor = min(1.0, MAX_PASTE_SIDE / max(height, width))
    out = (max(1, round(height * factor)), max(1, round(width * factor)))
    probs = predict_probs(model, image_tensor(image)[None], out, tta, None, input_size)
    labels = probs[0].argmax(dim=0).to(torch.uint8).cpu().numpy()
    if out != (height, width):
        labels = np.asarray(Image.fromarray(labels).resize((width, height), Image.Resampling.NEAREST))
    return labels


def parse_photo(
    model: nn.Module,
    photo: np.ndarray | Image.Image | str | Path,
    framing: Framing = DEFAULT_FRAMING,
    tta: str | None = None,
    whole_image: bool = False,
    detector: Detector = detect_faces,
) -> tuple[np.ndarray, list[Face]]:
    """The H×W uint8 label map of a photo at its own size, and the faces parsed in it.

    Each detected face is cut as a square crop framed by `framing` (border pixels repeated where the crop leaves
    the photo), parsed at the model's input size, and pasted back; where crops overlap, a pixel takes the label of
    the face whose crop centre is nearer. Raises `NoFaceFound` when there is no face. `whole_image=True` skips
    detection and parses the whole photo as if it were an aligned face (and returns no faces). A model trained at
    each image's own size (input_size None) parses at FACE_SIDE, the size of the faces it was trained on.
    """
    image = as_photo(photo)
    input_size = resolve_input_size(model, MODEL_INPUT_SIZE) or FACE_SIDE
    height, width = image.shape[:2]
    if whole_image:
        return _parse(model, image, input_size, tta), []
    mask = np.zeros((height, width), dtype=np.uint8)
    nearest = np.full((height, width), np.inf, dtype=np.float32)
    faces = []
    for box in detector(image):
        crop = framing.crop(box)
        top, left, side = crop.rounded()
        rows = slice(max(0, top), min(height, top + side))
        cols = slice(max(0, left), min(width, left + side))
        if rows.start >= rows.stop or cols.start >= cols.stop:
            log.warning("face box %s: its crop %s lies outside the %d×%d photo; skipped", box, crop, width, height)
            continue
        labels = _parse(model, cut_square(image, crop), input_size, tta)
        centre_row, centre_col = top + side / 2, left + side / 2
        yy, xx = np.ogrid[rows, cols]
        distance = np.hypot(yy + 0.5 - centre_row, xx + 0.5 - centre_col)
        closer = distance < nearest[rows, cols]
        mask[rows, cols][closer] = labels[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left][closer]
        nearest[rows, cols][closer] = distance[closer]
        faces.append(Face(box=box, crop=FaceBox(top, left, side)))
    if not faces:
        name = f"{photo}: " if isinstance(photo, (str, Path)) else ""
        raise NoFaceFound(f"{name}no face found; parse it as an aligned face with whole_image=True (--whole-image)")
    return mask, faces


def draw_faces(image: np.ndarray, faces: Sequence[Face], width: int | None = None) -> np.ndarray:
    """A copy of an H×W×3 image with each face's detector box (green) and parsed crop (yellow) drawn on it."""
    picture = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(picture)
    line = width or max(2, round(min(image.shape[:2]) / 200))
    for face in faces:
        for box, colour in ((face.crop, CROP_COLOUR), (face.box, BOX_COLOUR)):
            top, left, side = box.rounded()
            draw.rectangle((left, top, left + side - 1, top + side - 1), outline=colour, width=line)
    return np.asarray(picture)


@dataclass
class PhotoSummary(PredictSummary):
    """What `predict_photos` did: a `PredictSummary` and the number of faces found in each photo, by file name."""

    faces: dict[str, int] = field(default_factory=dict)


def predict_photos(
    model: nn.Module,
    in_dir: str | Path,
    out_dir: str | Path,
    overlay_dir: str | Path | None = None,
    framing: Framing = DEFAULT_FRAMING,
    tta: str | None = None,
    whole_image: bool = False,
    label_order: str = "celebamask",
    progress: bool = False,
) -> PhotoSummary:
    """`parse_photo` for every photo of a folder: STEM.png masks at each photo's (upright) size, and overlays with
    the face boxes drawn. A photo without a face is listed in `failed` (or parsed whole with `whole_image`)."""
    to_order = remap_table("celebamask", label_order)
    in_dir, out_dir, overlay_dir = output_folders(in_dir, out_dir, overlay_dir)
    paths, refused = list_images(in_dir)
    summary = PhotoSummary(failed=list(refused))
    out_dir.mkdir(parents=True, exist_ok=True)
    if overlay_dir is not None:
        overlay_dir.mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    for path in tqdm(paths, desc="photos", unit="photo", disable=not progress):
        try:
            image = read_photo(path)
            try:
                mask, faces = parse_photo(model, image, framing, tta)
            except NoFaceFound:
                if not whole_image:
                    raise NoFaceFound(f"{path}: no face found (--whole-image parses it as an aligned face)") from None
                mask, faces = parse_photo(model, image, framing, tta, whole_image=True)
        except DatasetError as err:
            summary.failed.append((path, str(err)))
            continue
        summary.faces[path.name] = len(faces)
        summary.masks.append(write_mask(mask if to_order is None else to_order[mask], out_dir / f"{path.stem}.png"))
        if overlay_dir is not None:
            picture = draw_faces(overlay(image, mask), faces)
            summary.overlays.append(save_png(Image.fromarray(picture), overlay_dir / f"{path.stem}.png"))
    return summary
