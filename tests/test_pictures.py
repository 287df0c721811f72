import numpy as np
import pytest
import torch

from faceparse_lib.classes import IGNORE_INDEX, PALETTE, colorize
from faceparse_lib.evaluation.metrics import ConfusionMatrix
from faceparse_lib.visual.pictures import (
    DIM,
    ERROR_COLOR,
    IGNORE_SHADE,
    classes_present,
    image_miou,
    render,
    to_uint8_image,
)

H, W = 12, 10


@pytest.fixture
def sample():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    truth = rng.integers(0, 4, (H, W)).astype(np.uint8)
    truth[:2, :3] = IGNORE_INDEX
    pred = truth.copy()
    pred[5:8, 2:6] = (pred[5:8, 2:6] + 1) % 4
    pred[:2, :3] = 2  # predictions under ignore pixels are never mistakes
    return image, truth, pred


def test_side_by_side_shows_image_truth_and_prediction_panels_with_gaps(sample):
    image, truth, pred = sample
    out = render(image, truth, pred, mode="side_by_side", gap=4)
    assert out.shape == (H, 3 * W + 2 * 4, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :W], image)
    np.testing.assert_array_equal(out[:, W + 4 : 2 * W + 4], colorize(truth))
    np.testing.assert_array_equal(out[:, 2 * W + 8 :], colorize(pred))
    assert (out[:, W : W + 4] == 255).all()


def test_side_by_side_without_prediction_has_two_panels(sample):
    image, truth, _ = sample
    assert render(image, truth, gap=0).shape == (H, 2 * W, 3)


def test_overlay_opacity_zero_is_the_image_and_one_is_the_mask_colours(sample):
    image, truth, _ = sample
    np.testing.assert_array_equal(render(image, truth, mode="overlay", opacity=0.0), image)
    np.testing.assert_array_equal(render(image, truth, mode="overlay", opacity=1.0), colorize(truth))
    half = render(image, truth, mode="overlay", opacity=0.5).astype(int)
    expected = (image.astype(int) + colorize(truth).astype(int)) / 2
    assert np.abs(half - expected).max() <= 0.5 + 1e-6


def test_hidden_classes_show_the_plain_image(sample):
    image, truth, _ = sample
    out = render(image, truth, mode="overlay", opacity=1.0, visible_classes={0, 2})
    hidden = np.isin(truth, [1, 3])
    np.testing.assert_array_equal(out[hidden], image[hidden])
    np.testing.assert_array_equal(out[~hidden], colorize(truth)[~hidden])


def test_errors_view_marks_exactly_the_wrong_pixels_and_ignore_apart(sample):
    image, truth, pred = sample
    out = render(image, truth, pred, mode="errors")
    assert out.shape == image.shape
    ignore = truth == IGNORE_INDEX
    wrong = (pred != truth) & ~ignore
    assert wrong.sum() > 0
    np.testing.assert_array_equal((out == ERROR_COLOR).all(axis=-1), wrong)
    np.testing.assert_array_equal((out == IGNORE_SHADE).all(axis=-1) & ignore, ignore)
    correct = ~wrong & ~ignore
    np.testing.assert_array_equal(out[correct], (image[correct].astype(np.float32) * DIM + 0.5).astype(np.uint8))


def test_errors_view_with_visible_classes_marks_only_their_mistakes(sample):
    image, truth, pred = sample
    out = render(image, truth, pred, mode="errors", visible_classes={1})
    marked = (out == ERROR_COLOR).all(axis=-1)
    wrong = (pred != truth) & (truth != IGNORE_INDEX)
    np.testing.assert_array_equal(marked, wrong & ((truth == 1) | (pred == 1)))


def test_errors_view_needs_a_prediction(sample):
    image, truth, _ = sample
    with pytest.raises(ValueError, match="needs both"):
        render(image, truth, mode="errors")


def test_unknown_mode_is_refused(sample):
    with pytest.raises(ValueError, match="side_by_side"):
        render(sample[0], mode="grid")


def test_dataset_tensors_render_like_uint8_arrays(sample):
    image, truth, pred = sample
    tensor = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    np.testing.assert_array_equal(to_uint8_image(tensor), image)
    np.testing.assert_array_equal(
        render(tensor, torch.from_numpy(truth).long(), torch.from_numpy(pred)), render(image, truth, pred)
    )


def test_image_miou_is_the_confusion_matrix_miou_of_that_image(sample):
    _, truth, pred = sample
    matrix = ConfusionMatrix()
    matrix.update(torch.from_numpy(pred), torch.from_numpy(truth))
    assert image_miou(truth, pred) == pytest.approx(matrix.miou())
    perfect = np.where(truth == IGNORE_INDEX, 0, truth)
    assert image_miou(truth, perfect) == 1.0
    assert image_miou(truth, pred) < 1.0


def test_classes_present_leaves_out_ignore():
    mask = np.array([[0, 5], [IGNORE_INDEX, 5]], dtype=np.uint8)
    assert classes_present(mask) == [0, 5]


def test_palette_colours_reach_the_picture():
    mask = np.arange(19, dtype=np.uint8).reshape(1, 19)
    image = np.zeros((1, 19, 3), dtype=np.uint8)
    np.testing.assert_array_equal(render(image, mask, mode="overlay", opacity=1.0)[0], PALETTE)
