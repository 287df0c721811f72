"""Pictures of an image with its ground truth and prediction: plain H×W×3 uint8 arrays, no widgets.

`render` is what the mask viewer shows; notebooks and tests can call it directly.
"""

from __future__ import annotations

from typing import Collection, Sequence

import numpy as np
import torch

from faceparse_lib.classes import IGNORE_INDEX, NUM_CLASSES, colorize
from faceparse_lib.evaluation.fscore import FScore
from faceparse_lib.evaluation.metrics import ConfusionMatrix

MODES = ("side_by_side", "overlay", "errors")
ERROR_COLOR = np.array([255, 0, 0], dtype=np.uint8)
IGNORE_SHADE = np.array([128, 128, 128], dtype=np.uint8)
GAP_COLOR = np.array([255, 255, 255], dtype=np.uint8)
# Correct pixels in the errors view keep this share of their brightness, so the red marks stand out.
DIM = 0.35
TITLE_HEIGHT = 26  # pixels of the white strip `with_titles` puts above the panels
TITLE_COLOR = (0, 0, 0)


def to_uint8_image(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """An H×W×3 uint8 RGB array from a float 3×H×W tensor/array in [0, 1] (as datasets yield) or an H×W×3 uint8 array."""
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3:
        return array
    if np.issubdtype(array.dtype, np.floating) and array.ndim == 3 and array.shape[0] == 3:
        return (np.clip(array.transpose(1, 2, 0), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    raise ValueError(
        f"image of shape {array.shape} and dtype {array.dtype}; expected float 3×H×W in [0, 1] or H×W×3 uint8"
    )


def to_mask(mask: np.ndarray | torch.Tensor) -> np.ndarray:
    """An H×W uint8 class-index array from a mask tensor or array (0..18, 255 ignore)."""
    array = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"mask of shape {array.shape}; expected H×W class indices")
    if array.size and (array.min() < 0 or array.max() > 255):
        raise ValueError(f"mask values must lie in 0..{NUM_CLASSES - 1} or {IGNORE_INDEX}")
    return array.astype(np.uint8, copy=False)


def classes_present(mask: np.ndarray | torch.Tensor) -> list[int]:
    """The sorted class indices that occur in a mask (ignore pixels left out)."""
    values = np.unique(to_mask(mask))
    return [int(v) for v in values if v < NUM_CLASSES]


def image_fscore(truth: np.ndarray | torch.Tensor, pred: np.ndarray | torch.Tensor) -> float:
    """The challenge's F-score of one image (mean F over the classes of its ground truth)."""
    meter = FScore()
    meter.update(to_mask(pred), to_mask(truth))
    return meter.mean()


def image_miou(truth: np.ndarray | torch.Tensor, pred: np.ndarray | torch.Tensor) -> float:
    """mIoU of one image (classes absent from both masks left out, ignore pixels dropped); NaN if nothing counts."""
    matrix = ConfusionMatrix()
    matrix.update(torch.from_numpy(to_mask(pred)), torch.from_numpy(to_mask(truth)))
    return matrix.miou()


def _shown(mask: np.ndarray, visible_classes: Collection[int] | None) -> np.ndarray:
    """Boolean H×W: pixels drawn in colour (a visible class, or ignore, which is not a class and always shown)."""
    if visible_classes is None:
        return np.ones(mask.shape, dtype=bool)
    lookup = np.zeros(256, dtype=bool)
    lookup[[c for c in visible_classes if 0 <= c < NUM_CLASSES]] = True
    lookup[IGNORE_INDEX] = True
    return lookup[mask]


def mask_panel(image: np.ndarray, mask: np.ndarray, opacity: float = 1.0, visible_classes: Collection[int] | None = None) -> np.ndarray:
    """The mask's palette colours blended over the image with `opacity`; hidden classes show the image as it is."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity {opacity}: expected a value in [0, 1]")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask of size {mask.shape[1]}×{mask.shape[0]} for an image of {image.shape[1]}×{image.shape[0]}")
    blended = image.astype(np.float32) * (1.0 - opacity) + colorize(mask).astype(np.float32) * opacity
    out = image.copy()
    shown = _shown(mask, visible_classes)
    out[shown] = (blended[shown] + 0.5).astype(np.uint8)
    return out


def errors_panel(
    image: np.ndarray, truth: np.ndarray, pred: np.ndarray, visible_classes: Collection[int] | None = None
) -> np.ndarray:
    """Wrong pixels red, ignore pixels grey, everything else the image dimmed.

    With `visible_classes`, only mistakes whose true or predicted class is visible are marked.
    """
    if not truth.shape == pred.shape == image.shape[:2]:
        raise ValueError(f"image {image.shape[:2]}, truth {truth.shape} and prediction {pred.shape} differ in size")
    out = (image.astype(np.float32) * DIM + 0.5).astype(np.uint8)
    ignore = truth == IGNORE_INDEX
    wrong = (pred != truth) & ~ignore
    if visible_classes is not None:
        wrong &= _shown(truth, visible_classes) | _shown(pred, visible_classes)
    out[wrong] = ERROR_COLOR
    out[ignore] = IGNORE_SHADE
    return out


def side_by_side(panels: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Panels of the same height joined left to right with a `gap`-pixel white strip between them."""
    height = panels[0].shape[0]
    strip = np.broadcast_to(GAP_COLOR, (height, gap, 3))
    pieces: list[np.ndarray] = []
    for panel in panels:
        if pieces and gap:
            pieces.append(strip)
        pieces.append(panel)
    return np.ascontiguousarray(np.concatenate(pieces, axis=1))


def render(
    image: np.ndarray | torch.Tensor,
    truth: np.ndarray | torch.Tensor | None = None,
    pred: np.ndarray | torch.Tensor | None = None,
    mode: str = "side_by_side",
    opacity: float = 0.5,
    visible_classes: Collection[int] | None = None,
    gap: int = 4,
) -> np.ndarray:
    """One H×W'×3 uint8 picture of an image with its masks.

    - "side_by_side": image | truth | prediction (the masks in full colour, each panel only if given);
    - "overlay": truth and prediction each blended over the image with `opacity` (the image alone if neither);
    - "errors": pixels where prediction != truth red, ignore pixels grey, the rest the image dimmed.
    `visible_classes` (class indices, None for all) limits which classes are coloured or, in "errors", marked.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    picture = to_uint8_image(image)
    masks = [to_mask(m) for m in (truth, pred) if m is not None]
    if mode == "errors":
        if truth is None or pred is None:
            raise ValueError("the errors view needs both the ground truth and a prediction")
        return errors_panel(picture, masks[0], masks[1], visible_classes)
    if mode == "side_by_side":
        panels = [picture] + [mask_panel(picture, m, 1.0, visible_classes) for m in masks]
    else:
        panels = [mask_panel(picture, m, opacity, visible_classes) for m in masks] or [picture]
    return side_by_side(panels, gap)


def panel_titles(mode: str, has_truth: bool, has_pred: bool) -> list[str]:
    """The title of each panel `render` draws for `mode`, left to right."""
    if mode == "errors":
        return ["errors (red: prediction ≠ truth)"]
    masks = [name for name, given in (("ground truth", has_truth), ("prediction", has_pred)) if given]
    if mode == "side_by_side":
        return ["image", *masks]
    return [f"{name} over image" for name in masks] or ["image"]


def with_titles(picture: np.ndarray, titles: Sequence[str], gap: int = 4) -> np.ndarray:
    """`picture` (len(titles) equal panels joined by `gap`-pixel strips) with a white title strip above each panel."""
    from PIL import Image, ImageDraw

    height, width = picture.shape[:2]
    panel = (width - gap * (len(titles) - 1)) / len(titles)
    strip = Image.new("RGB", (width, TITLE_HEIGHT), tuple(int(v) for v in GAP_COLOR))
    draw = ImageDraw.Draw(strip)
    for i, title in enumerate(titles):
        font = _font_fitting(draw, title, panel - 4)
        centre = i * (panel + gap) + panel / 2
        draw.text((centre, TITLE_HEIGHT / 2), title, fill=TITLE_COLOR, font=font, anchor="mm")
    return np.ascontiguousarray(np.concatenate([np.asarray(strip), picture], axis=0))


def _font_fitting(draw, text: str, width: float):
    """Pillow's default font at the largest size (16 px down to 8) whose `text` fits in `width` pixels."""
    from PIL import ImageFont

    for size in range(16, 7, -1):
        try:
            font = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1 has one bitmap size
            return ImageFont.load_default()
        if draw.textlength(text, font=font) <= width:
            return font
    return font


def render_photo(image: np.ndarray, mask: np.ndarray, faces: Sequence, opacity: float = 0.5, gap: int = 4) -> np.ndarray:
    """A parsed photo as one titled picture: the photo with its face boxes | the parse | the parse over the photo.

    `faces` are `evaluation.photos.Face`s; the detector's box is drawn green, the crop that was parsed yellow.
    """
    from faceparse_lib.evaluation.photos import draw_faces

    picture, mask = to_uint8_image(image), to_mask(mask)
    panels = [draw_faces(picture, faces), draw_faces(mask_panel(picture, mask, 1.0), faces),
              mask_panel(picture, mask, opacity)]
    count = f"{len(faces)} face{'s' if len(faces) != 1 else ''}" if faces else "no face: parsed whole"
    return with_titles(side_by_side(panels, gap), [f"photo ({count})", "parse", "parse over photo"], gap)
