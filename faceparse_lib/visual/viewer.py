"""An ipywidgets app to look at images, their ground truth and a model's predictions, worst images first.

Core widgets only, so it runs on ipywidgets 7.7.1 (Colab) and 8. The pictures come from `faceparse_lib.visual.pictures`;
this module only wires controls to it. Every callback reports its exceptions in the viewer and in the log:
ipywidgets would otherwise drop them silently. Set FACEPARSE_RAISE_CALLBACK_ERRORS=1 to re-raise them too
(the CI notebooks do, so a broken callback fails the run).
"""

from __future__ import annotations

import functools
import html
import io
import logging
import math
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import ipywidgets as widgets
import numpy as np
import torch
from PIL import Image

from faceparse_lib.classes import CLASS_TITLES, CLASSES, NUM_CLASSES, PALETTE, remap_labels
from faceparse_lib.classes import label_order as label_order_classes
from faceparse_lib.data.layout import DatasetError, files_by_stem, read_mask
from faceparse_lib.visual.pictures import (
    MODES,
    classes_present,
    image_fscore,
    image_miou,
    panel_titles,
    render,
    to_mask,
    to_uint8_image,
    with_titles,
)

log = logging.getLogger(__name__)

RAISE_ENV = "FACEPARSE_RAISE_CALLBACK_ERRORS"
ORDERS = ("index", "worst")
IMAGE_SCORES = {"miou": image_miou, "fscore": image_fscore}
# Small images are enlarged (nearest neighbour) to at least this height on screen, so 64-px test sets stay readable.
MIN_DISPLAY_HEIGHT = 256
_OFF_COLOR = "#dddddd"
_LIGHT_TEXT_CLASS = "faceparse-light-text"
# ipywidgets 7 has no text colour for buttons; a CSS rule keeps class names readable on dark palette colours.
_STYLE = f"<style>.{_LIGHT_TEXT_CLASS} {{ color: white !important; }}</style>"
_MODE_LABELS = {"side_by_side": "side by side", "overlay": "overlay", "errors": "errors"}


def _hex(color: np.ndarray) -> str:
    """#rrggbb for an RGB triple."""
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in color))


def _is_dark(color: np.ndarray) -> bool:
    """True when white text reads better than black on this colour (Rec. 601 luma)."""
    r, g, b = (int(v) for v in color)
    return 0.299 * r + 0.587 * g + 0.114 * b < 120


def enlarged(array: np.ndarray) -> tuple[np.ndarray, int]:
    """The array enlarged by a whole factor when it is shorter than MIN_DISPLAY_HEIGHT, and that factor."""
    factor = max(1, MIN_DISPLAY_HEIGHT // max(1, array.shape[0]))
    return (array.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else array), factor


def png_bytes(array: np.ndarray) -> bytes:
    """PNG encoding of an H×W×3 uint8 array."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="png")
    return buffer.getvalue()


def reports_errors(method: Callable) -> Callable:
    """Decorate a viewer callback: an exception is shown in the viewer and logged (and re-raised if RAISE_ENV is set)."""

    @functools.wraps(method)
    def wrapper(self: "MaskViewer", *args: Any, **kwargs: Any) -> Any:
        self._callback_depth += 1
        try:
            return method(self, *args, **kwargs)
        except Exception as err:  # noqa: BLE001 - shown and logged; ipywidgets would swallow it
            if self._callback_depth > 1:  # a callback called by another: the outermost one reports it
                raise
            self._show_error(err)
            if os.environ.get(RAISE_ENV, "") not in ("", "0"):
                raise
            return None
        finally:
            self._callback_depth -= 1

    return wrapper


def _stems(dataset: Any, names: Sequence[str] | None) -> list[str]:
    """A name for every image: `names` if given, else the image file stems of a FaceParsingDataset, else indices."""
    if names is not None:
        if len(names) != len(dataset):
            raise ValueError(f"{len(names)} names for a dataset of {len(dataset)} images")
        return [str(n) for n in names]
    pairs = getattr(dataset, "pairs", None)
    if pairs is not None and len(pairs) == len(dataset):
        return [Path(image).stem for image, _ in pairs]
    return [str(i) for i in range(len(dataset))]


class MaskViewer:
    """Image, ground truth and prediction side by side, as an overlay or as an error map, with class toggles.

    Predictions come from `model` (predicted lazily, one image at a time, and cached) or from `predictions_dir`
    (PNG masks named like the images, as `predict_folder` writes them; `label_order="face-parsing.pytorch"` or "farl" reads
    masks numbered in that order); with neither, the viewer shows the
    ground truth only. `order="worst"` sorts the images by their own score, lowest first (this predicts every
    image once): `score="miou"` (each image's mIoU) or `"fscore"` (the challenge's per-image F-score). Display it as the last expression of a cell or with `display(viewer)`.
    """

    def __init__(
        self,
        dataset: Any,
        model: torch.nn.Module | None = None,
        predictions_dir: str | Path | None = None,
        order: str = "index",
        mode: str = "side_by_side",
        opacity: float = 0.5,
        tta: str | None = None,
        names: Sequence[str] | None = None,
        label_order: str = "celebamask",
        score: str = "miou",
    ) -> None:
        if score not in IMAGE_SCORES:
            raise ValueError(f"unknown score {score!r}; choose from {', '.join(IMAGE_SCORES)}")
        self.score = score
        if len(dataset) == 0:
            raise ValueError("the dataset is empty; nothing to view")
        if model is not None and predictions_dir is not None:
            raise ValueError("give a model or a predictions folder, not both")
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; choose from {', '.join(ORDERS)}")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        self.dataset, self.model, self.tta = dataset, model, tta
        self.names = _stems(dataset, names)
        label_order_classes(label_order)  # refuses an unknown order before anything is read
        self.label_order = label_order  # the numbering of the masks in predictions_dir, shown in the kit's order
        self.predictions_dir = Path(predictions_dir) if predictions_dir is not None else None
        self._prediction_files = files_by_stem(self.predictions_dir, (".png",)) if self.predictions_dir else {}
        self.has_predictions = model is not None or self.predictions_dir is not None
        if not self.has_predictions and (order == "worst" or mode == "errors"):
            raise ValueError(f"{order=} / {mode=} need predictions: give a model or a predictions folder")
        self._predictions: dict[int, np.ndarray | None] = {}
        self._scores: dict[int, float] = {}
        self._sample_cache: tuple[int, tuple[Any, np.ndarray, np.ndarray]] | None = None
        self.order_indices: list[int] = list(range(len(dataset)))
        self.visible_classes: set[int] = set(range(NUM_CLASSES))
        self.current_array: np.ndarray | None = None
        self.last_error: BaseException | None = None
        self._callback_depth = 0
        self._build_widgets(mode, opacity)
        if order == "worst":
            self.order.value = "worst"  # sorts and shows the worst image
        else:
            self._refresh()

    # -- data ----------------------------------------------------------------------------------------------------

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(H×W×3 uint8 image, H×W uint8 truth) of dataset item `index`."""
        _, image, truth = self._item(index)
        return image, truth

    def _item(self, index: int) -> tuple[Any, np.ndarray, np.ndarray]:
        """The raw image as the dataset yields it, the uint8 image and the truth; the last one read is kept."""
        if self._sample_cache is None or self._sample_cache[0] != index:
            raw, mask = self.dataset[index][:2]
            self._sample_cache = (index, (raw, to_uint8_image(raw), to_mask(mask)))
        return self._sample_cache[1]

    def prediction(self, index: int) -> np.ndarray | None:
        """The predicted H×W uint8 mask of dataset item `index` (None without a prediction source or file)."""
        if not self.has_predictions:
            return None
        if index not in self._predictions:
            self._predictions[index] = self._predict(index)
        return self._predictions[index]

    def _predict(self, index: int) -> np.ndarray | None:
        raw, image, truth = self._item(index)
        if self.model is not None:
            from faceparse_lib.evaluation.inference import predict_image

            source = raw if isinstance(raw, torch.Tensor) else image
            return predict_image(self.model, source, tta=self.tta)
        path = self._prediction_files.get(self.names[index])
        if path is None:
            return None
        mask = remap_labels(read_mask(path), self.label_order, "celebamask")
        if mask.shape != truth.shape:
            raise DatasetError(
                f"{path}: predicted mask is {mask.shape[1]}×{mask.shape[0]} but image {self.names[index]} is "
                f"{truth.shape[1]}×{truth.shape[0]}; expected the same size"
            )
        return mask

    def iou(self, index: int) -> float:
        """The score (mIoU, or the F-score with score="fscore") of dataset item `index` alone; NaN without a prediction."""
        if index not in self._scores:
            pred = self.prediction(index)
            scored = IMAGE_SCORES[self.score]
            self._scores[index] = math.nan if pred is None else scored(self.sample(index)[1], pred)
        return self._scores[index]

    def worst_first(self) -> list[int]:
        """Dataset indices sorted by their own score, lowest first (images without a prediction last)."""
        self.progress.max, self.progress.value = len(self.dataset), 0
        self.progress.layout.display = None
        try:
            for index in range(len(self.dataset)):
                self.iou(index)
                self.progress.value = index + 1
        finally:
            self.progress.layout.display = "none"
        log.info("scored %d images for the worst-first order", len(self.dataset))
        return sorted(self._scores, key=lambda i: (math.isnan(self._scores[i]), self._scores[i], i))

    @property
    def current_index(self) -> int:
        """The dataset index of the image on screen."""
        return self.order_indices[self.index.value]

    # -- widgets -------------------------------------------------------------------------------------------------

    def _build_widgets(self, mode: str, opacity: float) -> None:
        modes = [m for m in MODES if self.has_predictions or m != "errors"]
        self.mode = widgets.ToggleButtons(options=[(_MODE_LABELS[m], m) for m in modes], value=mode)
        self.opacity = widgets.FloatSlider(value=opacity, min=0.0, max=1.0, step=0.05, description="opacity",
                                           continuous_update=False, readout_format=".2f")
        self.opacity.disabled = mode != "overlay"
        orders = [("dataset order", "index")] + ([("worst images first", "worst")] if self.has_predictions else [])
        self.order = widgets.Dropdown(options=orders, value="index", description="order")
        self.previous = widgets.Button(description="◀ previous", layout=widgets.Layout(width="auto"))
        self.next = widgets.Button(description="next ▶", layout=widgets.Layout(width="auto"))
        self.index = widgets.IntSlider(value=0, min=0, max=len(self.dataset) - 1, description="image",
                                       continuous_update=False)
        self.class_buttons = [self._class_button(c) for c in range(NUM_CLASSES)]
        self.show_all = widgets.Button(description="all", layout=widgets.Layout(width="auto"))
        self.show_none = widgets.Button(description="none", layout=widgets.Layout(width="auto"))
        self.info = widgets.HTML()
        self.error_line = widgets.HTML(layout=widgets.Layout(display="none"))
        self.progress = widgets.IntProgress(description="scoring", layout=widgets.Layout(display="none"))
        # Natural size (not stretched by the VBox), shrunk to fit narrow outputs.
        self.picture = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", align_self="flex-start"))

        self.mode.observe(self._on_mode, names="value")
        self.opacity.observe(self._on_control, names="value")
        self.order.observe(self._on_order, names="value")
        self.index.observe(self._on_control, names="value")
        self.previous.on_click(self._on_previous)
        self.next.on_click(self._on_next)
        self.show_all.on_click(self._on_show_all)
        self.show_none.on_click(self._on_show_none)
        for button in self.class_buttons:
            button.on_click(self._on_class_button)

        classes = widgets.HBox([*self.class_buttons, self.show_all, self.show_none],
                               layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([
            widgets.HTML(_STYLE),
            widgets.HBox([self.mode, self.order]),
            widgets.HBox([self.previous, self.index, self.next]),
            self.opacity,
            classes,
            self.info,
            self.error_line,
            self.progress,
            self.picture,
        ])

    def _class_button(self, class_index: int) -> widgets.Button:
        button = widgets.Button(description=CLASSES[class_index], tooltip=f"show/hide {CLASS_TITLES[class_index]}",
                                layout=widgets.Layout(width="auto"))
        button.class_index = class_index  # type: ignore[attr-defined]
        self._paint(button, shown=True)
        return button

    @staticmethod
    def _paint(button: widgets.Button, shown: bool) -> None:
        """Palette colour while the class is shown, grey while hidden."""
        color = PALETTE[button.class_index]  # type: ignore[attr-defined]
        light_text = shown and _is_dark(color)
        button.style.button_color = _hex(color) if shown else _OFF_COLOR
        if "text_color" in button.style.trait_names():  # ipywidgets 8
            button.style.text_color = "white" if light_text else "black"
        (button.add_class if light_text else button.remove_class)(_LIGHT_TEXT_CLASS)

    def set_class_visible(self, class_index: int, visible: bool) -> None:
        """Show or hide one class in the pictures (and colour its toggle accordingly)."""
        (self.visible_classes.add if visible else self.visible_classes.discard)(class_index)
        self._paint(self.class_buttons[class_index], visible)
        self._refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- callbacks (each reports its own errors) ----------------------------------------------------------------

    @reports_errors
    def _on_control(self, change: dict | None = None) -> None:
        self._refresh()

    @reports_errors
    def _on_mode(self, change: dict) -> None:
        self.opacity.disabled = change["new"] != "overlay"
        self._refresh()

    @reports_errors
    def _on_order(self, change: dict) -> None:
        current = self.current_index
        self.order_indices = self.worst_first() if change["new"] == "worst" else list(range(len(self.dataset)))
        # Worst-first starts at the worst image; back in dataset order, stay on the image that was shown.
        self._go(0 if change["new"] == "worst" else current)

    @reports_errors
    def _on_previous(self, button: widgets.Button) -> None:
        self._go(max(0, self.index.value - 1))

    @reports_errors
    def _on_next(self, button: widgets.Button) -> None:
        self._go(min(self.index.max, self.index.value + 1))

    @reports_errors
    def _on_class_button(self, button: widgets.Button) -> None:
        index = button.class_index  # type: ignore[attr-defined]
        self.set_class_visible(index, index not in self.visible_classes)

    @reports_errors
    def _on_show_all(self, button: widgets.Button) -> None:
        self._set_all_visible(True)

    @reports_errors
    def _on_show_none(self, button: widgets.Button) -> None:
        self._set_all_visible(False)

    def _set_all_visible(self, visible: bool) -> None:
        self.visible_classes = set(range(NUM_CLASSES)) if visible else set()
        for button in self.class_buttons:
            self._paint(button, visible)
        self._refresh()

    def _go(self, position: int) -> None:
        """Show the image at `position` of the current order (re-rendering even if it is already there)."""
        if self.index.value != position:
            self.index.value = position  # its observer re-renders
        else:
            self._refresh()

    @reports_errors
    def _refresh(self) -> None:
        """Render the current image with the current controls and put it on screen."""
        index = self.current_index
        image, truth = self.sample(index)
        pred = self.prediction(index)
        self.previous.disabled = self.index.value == 0
        self.next.disabled = self.index.value == self.index.max
        self.current_array = render(image, truth, pred, self.mode.value, self.opacity.value, self.visible_classes)
        titles = panel_titles(self.mode.value, truth is not None, pred is not None)
        shown, factor = enlarged(self.current_array)
        self.picture.value = png_bytes(with_titles(shown, titles, gap=4 * factor))
        self.info.value = self._info_html(index, truth, pred)
        self.error_line.value, self.error_line.layout.display = "", "none"

    def _info_html(self, index: int, truth: np.ndarray, pred: np.ndarray | None) -> str:
        position = f"<b>{html.escape(self.names[index])}</b> ({self.index.value + 1}/{len(self.dataset)})"
        if pred is not None:
            score = f"{'F-score' if self.score == 'fscore' else 'IoU'} {self.iou(index):.3f}"
        elif self.has_predictions:
            score = f"no prediction ({html.escape(self.names[index])}.png not in {html.escape(str(self.predictions_dir))})"
        else:
            score = "ground truth only"
        present = classes_present(truth)
        parts = [position, score, "classes: " + " ".join(_chip(c) for c in present)]
        extra = [c for c in classes_present(pred) if c not in present] if pred is not None else []
        if extra:
            parts.append("also predicted: " + " ".join(_chip(c) for c in extra))
        return " · ".join(parts)

    def _show_error(self, err: BaseException) -> None:
        self.last_error = err
        log.error("mask viewer: %s: %s", type(err).__name__, err, exc_info=err)
        message = html.escape(f"{type(err).__name__}: {err}")
        self.error_line.value = f'<span style="color:#b00020"><b>error:</b> {message}</span>'
        self.error_line.layout.display = None


def _chip(class_index: int) -> str:
    """A class name on its palette colour, for the info line."""
    color = PALETTE[class_index]
    text = "white" if _is_dark(color) else "black"
    return (f'<span style="background:{_hex(color)};color:{text};padding:0 4px;border-radius:3px">'
            f"{CLASSES[class_index]}</span>")
