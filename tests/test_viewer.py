import logging
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from faceparse_lib.classes import CLASSES, IGNORE_INDEX, NUM_CLASSES, PALETTE, colorize
from faceparse_lib.data.layout import DatasetError, read_mask
from faceparse_lib.data.dataset import FaceParsingDataset
from faceparse_lib.evaluation.masks import write_mask
from faceparse_lib.visual.pictures import ERROR_COLOR, IGNORE_SHADE, image_miou, side_by_side
from faceparse_lib.data.synthetic import make_synthetic_dataset
from faceparse_lib.visual.viewer import RAISE_ENV, MaskViewer, enlarged

SIZE, N = 64, 4
SKIN = CLASSES.index("skin")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = make_synthetic_dataset(tmp_path_factory.mktemp("faces"), 0, N, size=SIZE, seed=3)
    # Some ignore pixels in the first mask, as real masks padded by a crop have.
    first = root / "val" / "masks" / "00000.png"
    mask = read_mask(first)
    mask[:6, :6] = IGNORE_INDEX
    Image.fromarray(mask).save(first)
    return FaceParsingDataset(root, "val")


def corrupted(truth: np.ndarray, rows: int) -> np.ndarray:
    """The truth with its first `rows` rows relabelled to the next class (ignore pixels predicted as background)."""
    pred = np.where(truth == IGNORE_INDEX, 0, truth).astype(np.uint8)
    pred[:rows] = (pred[:rows] + 1) % NUM_CLASSES
    return pred


# Image 0 worst, image 3 perfect: dataset order is not worst-first order.
WRONG_ROWS = (40, 8, 20, 0)


@pytest.fixture(scope="module")
def predictions(dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("predictions")
    for (_, mask_path), rows in zip(dataset.pairs, WRONG_ROWS):
        write_mask(corrupted(read_mask(mask_path), rows), folder / mask_path.name)
    return folder


def panel(array: np.ndarray, k: int, gap: int = 4) -> np.ndarray:
    """Panel k of a side-by-side picture of SIZE-wide panels."""
    return array[:, k * (SIZE + gap) : k * (SIZE + gap) + SIZE]


class ConstantModel(nn.Module):
    """Predicts skin everywhere and counts its forward calls."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 1, 1)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        logits = torch.zeros(x.shape[0], NUM_CLASSES, *x.shape[-2:])
        logits[:, SKIN] = 1.0
        return {"out": logits}


def shown_picture(viewer) -> np.ndarray:
    """The PNG the viewer put on screen, decoded."""
    import io

    return np.asarray(Image.open(io.BytesIO(viewer.picture.value)).convert("RGB"))


@pytest.mark.parametrize("mode,titles", [("side_by_side", ["image", "ground truth", "prediction"]),
                                         ("overlay", ["ground truth over image", "prediction over image"])])
def test_every_panel_on_screen_carries_its_title(dataset, predictions, mode, titles):
    from faceparse_lib.visual.pictures import TITLE_HEIGHT, panel_titles

    viewer = MaskViewer(dataset, predictions_dir=predictions)
    viewer.mode.value = mode
    assert panel_titles(mode, True, True) == titles
    shown = shown_picture(viewer)
    panels, factor = enlarged(viewer.current_array)  # a 64-px set is shown 4× larger
    assert factor == 4 and shown.shape[0] == panels.shape[0] + TITLE_HEIGHT
    np.testing.assert_array_equal(shown[TITLE_HEIGHT:], panels)  # the panels below, untouched
    gap = 4 * factor
    strip, width = shown[:TITLE_HEIGHT], (shown.shape[1] - gap * (len(titles) - 1)) // len(titles)
    for k in range(len(titles)):  # dark text over each panel
        assert (strip[:, k * (width + gap):k * (width + gap) + width].max(axis=-1) < 100).any(), titles[k]


def test_truth_only_viewer_shows_image_and_truth(dataset):
    viewer = MaskViewer(dataset)
    image, truth = viewer.sample(0)
    np.testing.assert_array_equal(viewer.current_array, side_by_side([image, colorize(truth)]))
    assert viewer.picture.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ground truth only" in viewer.info.value
    assert [value for _, value in viewer.order.options] == ["index"]
    assert "errors" not in [value for _, value in viewer.mode.options]


def test_overlay_with_opacity_zero_shows_the_image_unchanged(dataset, predictions):
    viewer = MaskViewer(dataset, predictions_dir=predictions, mode="overlay")
    image, _ = viewer.sample(viewer.current_index)
    before = viewer.current_array.copy()
    viewer.opacity.value = 0.0
    assert not np.array_equal(viewer.current_array, before)
    np.testing.assert_array_equal(panel(viewer.current_array, 0), image)
    np.testing.assert_array_equal(panel(viewer.current_array, 1), image)


def test_opacity_slider_only_acts_in_overlay(dataset):
    viewer = MaskViewer(dataset)
    assert viewer.opacity.disabled
    viewer.mode.value = "overlay"
    assert not viewer.opacity.disabled


def test_toggling_a_class_off_removes_its_colour(dataset):
    viewer = MaskViewer(dataset)
    image, truth = viewer.sample(0)
    skin = truth == SKIN
    assert skin.any() and (panel(viewer.current_array, 1)[skin] == PALETTE[SKIN]).all()
    button = viewer.class_buttons[SKIN]
    assert button.style.button_color == "#{:02x}{:02x}{:02x}".format(*PALETTE[SKIN])

    button.click()
    np.testing.assert_array_equal(panel(viewer.current_array, 1)[skin], image[skin])
    np.testing.assert_array_equal(panel(viewer.current_array, 1)[~skin], colorize(truth)[~skin])
    assert SKIN not in viewer.visible_classes and button.style.button_color != "#cc0000"

    button.click()
    assert (panel(viewer.current_array, 1)[skin] == PALETTE[SKIN]).all()


def test_none_and_all_hide_and_show_every_class(dataset):
    viewer = MaskViewer(dataset)
    image, truth = viewer.sample(0)
    viewer.show_none.click()
    np.testing.assert_array_equal(panel(viewer.current_array, 1)[truth != IGNORE_INDEX], image[truth != IGNORE_INDEX])
    viewer.show_all.click()
    np.testing.assert_array_equal(panel(viewer.current_array, 1), colorize(truth))


def test_errors_view_marks_exactly_the_wrong_pixels(dataset, predictions):
    viewer = MaskViewer(dataset, predictions_dir=predictions, mode="errors")
    _, truth = viewer.sample(0)
    pred = viewer.prediction(0)
    ignore = truth == IGNORE_INDEX
    wrong = (pred != truth) & ~ignore
    assert wrong.any() and ignore.any()
    np.testing.assert_array_equal((viewer.current_array == ERROR_COLOR).all(axis=-1), wrong)
    assert (viewer.current_array[ignore] == IGNORE_SHADE).all()


def test_next_previous_and_slider_change_the_sample(dataset):
    viewer = MaskViewer(dataset)
    first = viewer.current_array.copy()
    assert viewer.previous.disabled and not viewer.next.disabled
    viewer.next.click()
    assert viewer.current_index == 1 and not np.array_equal(viewer.current_array, first)
    viewer.previous.click()
    assert viewer.current_index == 0
    np.testing.assert_array_equal(viewer.current_array, first)
    viewer.index.value = N - 1
    assert viewer.current_index == N - 1 and viewer.next.disabled
    assert f"({N}/{N})" in viewer.info.value


def test_predictions_folder_masks_are_matched_by_stem(dataset, predictions):
    viewer = MaskViewer(dataset, predictions_dir=predictions)
    for index, (_, mask_path) in enumerate(dataset.pairs):
        np.testing.assert_array_equal(viewer.prediction(index), read_mask(predictions / mask_path.name))
    image, truth = viewer.sample(0)
    np.testing.assert_array_equal(panel(viewer.current_array, 2), colorize(viewer.prediction(0)))
    assert f"IoU {image_miou(truth, viewer.prediction(0)):.3f}" in viewer.info.value


def test_an_image_without_a_predicted_mask_says_so(dataset, predictions, tmp_path):
    for name in ("00000.png", "00002.png"):
        (tmp_path / name).write_bytes((predictions / name).read_bytes())
    viewer = MaskViewer(dataset, predictions_dir=tmp_path)
    viewer.next.click()
    assert viewer.prediction(1) is None and math.isnan(viewer.iou(1))
    assert "no prediction" in viewer.info.value and viewer.last_error is None


def test_worst_first_sorts_by_each_images_own_iou(dataset, predictions):
    viewer = MaskViewer(dataset, predictions_dir=predictions, order="worst")
    scores = [image_miou(viewer.sample(i)[1], viewer.prediction(i)) for i in range(N)]
    assert viewer.order_indices == sorted(range(N), key=scores.__getitem__)
    assert viewer.order_indices != list(range(N))
    assert viewer.current_index == int(np.argmin(scores)) and viewer.order_indices[-1] == WRONG_ROWS.index(0)
    assert viewer.progress.value == N and viewer.progress.layout.display == "none"

    viewer.index.value = 2
    shown = viewer.current_index
    viewer.order.value = "index"
    assert viewer.order_indices == list(range(N)) and viewer.current_index == shown


def test_model_predictions_are_lazy_and_cached(dataset):
    model = ConstantModel()
    viewer = MaskViewer(dataset, model=model)
    assert model.calls == 1
    assert (viewer.prediction(0) == SKIN).all()
    viewer.next.click()
    viewer.previous.click()
    viewer.mode.value = "errors"
    assert model.calls == 2


def test_worst_first_with_a_model_predicts_every_image_once(dataset):
    model = ConstantModel()
    viewer = MaskViewer(dataset, model=model)
    viewer.order.value = "worst"
    assert model.calls == N
    assert viewer.order_indices == sorted(range(N), key=viewer.iou)


class BrokenAt:
    """A dataset whose item `bad` cannot be read."""

    def __init__(self, dataset, bad):
        self.dataset, self.bad = dataset, bad

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        if index == self.bad:
            raise DatasetError(f"masks/{index:05d}.png: unreadable or truncated image")
        return self.dataset[index]


def test_a_callback_exception_is_shown_and_logged_not_lost(dataset, caplog, monkeypatch):
    monkeypatch.delenv(RAISE_ENV, raising=False)
    viewer = MaskViewer(BrokenAt(dataset, 2))
    with caplog.at_level(logging.ERROR, logger="faceparse_lib.visual.viewer"):
        viewer.index.value = 2
    assert isinstance(viewer.last_error, DatasetError)
    assert "masks/00002.png: unreadable" in viewer.error_line.value
    assert viewer.error_line.layout.display != "none"
    record = next(r for r in caplog.records if r.name == "faceparse_lib.visual.viewer")
    assert record.exc_info and record.exc_info[0] is DatasetError

    viewer.index.value = 1  # the viewer keeps working and clears the message
    assert viewer.current_index == 1 and viewer.error_line.value == ""


def test_callback_exceptions_are_raised_when_asked_for(dataset, monkeypatch):
    monkeypatch.setenv(RAISE_ENV, "1")
    viewer = MaskViewer(BrokenAt(dataset, 2))
    with pytest.raises(DatasetError, match="00002"):
        viewer.index.value = 2
    assert "00002" in viewer.error_line.value


def test_worst_order_without_predictions_is_refused(dataset):
    with pytest.raises(ValueError, match="need predictions"):
        MaskViewer(dataset, order="worst")
    with pytest.raises(ValueError, match="not both"):
        MaskViewer(dataset, model=ConstantModel(), predictions_dir="somewhere")


def test_predictions_in_the_face_parsing_pytorch_order_are_shown_in_the_kits_order(dataset, predictions, tmp_path):
    from faceparse_lib.classes import remap_labels
    from faceparse_lib.evaluation.masks import write_mask

    for _, mask_path in dataset.pairs:
        write_mask(remap_labels(read_mask(predictions / mask_path.name), "celebamask", "face-parsing.pytorch"),
                   tmp_path / mask_path.name)
    kit_order = MaskViewer(dataset, predictions_dir=predictions)
    other_order = MaskViewer(dataset, predictions_dir=tmp_path, label_order="face-parsing.pytorch")
    for index in range(N):
        np.testing.assert_array_equal(other_order.prediction(index), kit_order.prediction(index))
    assert not np.array_equal(MaskViewer(dataset, predictions_dir=tmp_path).prediction(0), kit_order.prediction(0))
    with pytest.raises(ValueError, match="face-parsing.pytorch"):
        MaskViewer(dataset, predictions_dir=tmp_path, label_order="bisenet")


def test_worst_first_by_the_challenge_fscore(dataset, predictions):
    from faceparse_lib.visual.pictures import image_fscore

    viewer = MaskViewer(dataset, predictions_dir=predictions, order="worst", score="fscore")
    scores = [image_fscore(read_mask(mask), read_mask(predictions / mask.name)) for _, mask in dataset.pairs]
    assert viewer.order_indices == sorted(range(len(scores)), key=lambda i: (scores[i], i))
    assert viewer.iou(0) == pytest.approx(scores[0]) and "F-score" in viewer.info.value
    with pytest.raises(ValueError, match="unknown score"):
        MaskViewer(dataset, predictions_dir=predictions, score="dice")
