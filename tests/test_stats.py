import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from faceparse_lib.classes import CLASSES, IGNORE_INDEX, NUM_CLASSES
from faceparse_lib.cli import main
from faceparse_lib.data.layout import DatasetError
from faceparse_lib.data.dataset import FaceParsingDataset
from faceparse_lib.data.stats import (
    WEIGHT_METHODS,
    PixelCounts,
    class_weights,
    count_pixels,
    label_histogram,
    reference_counts,
)

# The seed report's class weights: (n_c, w_c = log2(N / n_c)) on its 5,000 training masks, N = 1,310,720,000.
REPORT_TABLE = [
    (375_099_645, 1.8050), (333_172_471, 1.9760), (27_015_905, 5.6004), (3_467_864, 8.5621),
    (2_937_773, 8.8014), (2_928_618, 8.8059), (5_572_580, 7.8778), (5_433_404, 7.9143),
    (6_164_110, 7.7323), (5_049_695, 8.0199), (3_896_683, 8.3939), (5_417_555, 7.9185),
    (8_898_431, 7.2026), (411_175_974, 1.6725), (12_651_045, 6.6950), (3_102_372, 8.7228),
    (196_952, 12.7002), (54_031_542, 4.6004), (44_507_381, 4.8802),
]

# Two hand-checked 2×2 masks: A has 3 background + 1 skin; B has 1 background, 2 nose and 1 ignored pixel.
MASK_A = np.array([[0, 0], [0, 1]], dtype=np.uint8)
MASK_B = np.array([[0, 2], [2, IGNORE_INDEX]], dtype=np.uint8)


def write_mask(folder, stem, mask, image=False):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(mask, dtype=np.uint8), "L").save(folder / f"{stem}.png")
    if image:
        images = folder.parent / "images"
        images.mkdir(exist_ok=True)
        Image.fromarray(np.zeros((*np.shape(mask), 3), dtype=np.uint8)).save(images / f"{stem}.png")


def random_masks(folder, n, seed=0, size=24):
    """Masks mixing long runs (the run-length path) with noise (the plain-bincount path) and ignore pixels."""
    rng = np.random.default_rng(seed)
    masks = []
    for i in range(n):
        if i % 2:
            mask = rng.integers(0, NUM_CLASSES, (size, size), dtype=np.uint8)
        else:
            mask = np.repeat(rng.integers(0, NUM_CLASSES, (size, 1), dtype=np.uint8), size, axis=1)
        mask[rng.random((size, size)) < 0.05] = IGNORE_INDEX
        write_mask(folder, f"{i:05d}", mask)
        masks.append(mask)
    return masks


def test_count_pixels_counts_classes_images_and_ignore_apart(tmp_path):
    write_mask(tmp_path, "a", MASK_A)
    write_mask(tmp_path, "b", MASK_B)
    counts = count_pixels(tmp_path, workers=1)
    expected_pixels = np.zeros(NUM_CLASSES, dtype=np.int64)
    expected_pixels[:3] = [4, 1, 2]
    assert counts.pixels.dtype == np.int64
    np.testing.assert_array_equal(counts.pixels, expected_pixels)
    np.testing.assert_array_equal(counts.images[:3], [2, 1, 1])
    assert counts.images[3:].sum() == 0
    np.testing.assert_array_equal(counts.present_pixels[:3], [4 + 3, 4, 3])  # labelled pixels of A, B
    assert (counts.n_images, counts.ignored, counts.total) == (2, 1, 7)
    np.testing.assert_array_equal(np.asarray(counts), expected_pixels)


def test_count_pixels_reads_a_folder_a_path_list_and_a_dataset_alike(tmp_path):
    masks = tmp_path / "train" / "masks"
    write_mask(masks, "00000", MASK_A, image=True)
    write_mask(masks, "00001", MASK_B, image=True)
    from_folder = count_pixels(masks, workers=1)
    from_paths = count_pixels([masks / "00001.png", masks / "00000.png"], workers=1)
    from_dataset = count_pixels(FaceParsingDataset(tmp_path, "train"), workers=1)
    for other in (from_paths, from_dataset):
        np.testing.assert_array_equal(other.pixels, from_folder.pixels)
        np.testing.assert_array_equal(other.images, from_folder.images)


def test_count_pixels_in_worker_processes_matches_a_brute_force_count(tmp_path):
    masks = random_masks(tmp_path, 40)
    stacked = np.stack(masks)
    brute = np.bincount(stacked.ravel(), minlength=256)
    parallel = count_pixels(tmp_path, workers=2)
    np.testing.assert_array_equal(parallel.pixels, brute[:NUM_CLASSES])
    assert parallel.ignored == brute[IGNORE_INDEX] and parallel.n_images == 40
    images = [sum(bool((m == c).any()) for m in masks) for c in range(NUM_CLASSES)]
    np.testing.assert_array_equal(parallel.images, images)
    serial = count_pixels(tmp_path, workers=1)
    np.testing.assert_array_equal(parallel.present_pixels, serial.present_pixels)


@pytest.mark.parametrize("kind", ["runs", "noise", "one pixel", "empty", "ignore only"])
def test_label_histogram_equals_bincount(kind):
    rng = np.random.default_rng(1)
    mask = {
        "runs": np.repeat(rng.integers(0, NUM_CLASSES, (64, 1), dtype=np.uint8), 64, axis=1),
        "noise": rng.integers(0, NUM_CLASSES, (64, 64), dtype=np.uint8),
        "one pixel": np.array([[7]], dtype=np.uint8),
        "empty": np.zeros((0, 5), dtype=np.uint8),
        "ignore only": np.full((8, 8), IGNORE_INDEX, dtype=np.uint8),
    }[kind]
    histogram = label_histogram(mask)
    assert histogram.dtype == np.int64 and histogram.shape == (256,)
    np.testing.assert_array_equal(histogram, np.bincount(mask.ravel(), minlength=256))


@pytest.mark.parametrize("workers", [1, 2])
def test_count_pixels_refuses_a_bad_label_naming_the_file(tmp_path, workers):
    random_masks(tmp_path, 40)
    write_mask(tmp_path, "00017", np.full((24, 24), 23, dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"00017\.png: label 23 outside 0\.\.18 and 255"):
        count_pixels(tmp_path, workers=workers)


def test_count_pixels_refuses_a_colour_mask_and_an_empty_folder(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(DatasetError, match=r"rgb\.png: a colour mask"):
        count_pixels(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no .png files"):
        count_pixels(tmp_path / "empty")


def test_to_frame_has_one_row_per_class_with_shares(tmp_path):
    write_mask(tmp_path, "a", MASK_A)
    write_mask(tmp_path, "b", MASK_B)
    frame = count_pixels(tmp_path).to_frame()
    assert list(frame["name"]) == list(CLASSES)
    assert frame.loc[2, "pixels"] == 2 and frame.loc[2, "share"] == pytest.approx(2 / 7)
    assert frame.loc[1, "image_share"] == pytest.approx(0.5)


def test_log2_weights_reproduce_the_report_table_to_4_decimals():
    pixels = [n for n, _ in REPORT_TABLE]
    assert sum(pixels) == 1_310_720_000
    weights = class_weights(pixels, "log2")
    assert weights.dtype == torch.float32 and weights.shape == (NUM_CLASSES,)
    np.testing.assert_array_equal(np.round(weights.double().numpy(), 4), [w for _, w in REPORT_TABLE])


def test_reference_csv_holds_the_report_table():
    reference = reference_counts()
    assert list(reference.index) == list(range(NUM_CLASSES)) and tuple(reference["name"]) == CLASSES
    assert list(reference["pixels"]) == [n for n, _ in REPORT_TABLE]
    assert list(reference["report_weight"]) == [w for _, w in REPORT_TABLE]
    np.testing.assert_allclose(class_weights(reference["pixels"]).numpy(), reference["report_weight"], atol=5e-5)


def test_reference_counts_refuses_a_csv_with_wrong_classes(tmp_path):
    bad = tmp_path / "ref.csv"
    reference_counts().rename(index={18: 19}).to_csv(bad)
    with pytest.raises(ValueError, match="rows 0..18"):
        reference_counts(bad)


def test_each_method_on_hand_computed_counts():
    pixels = [4, 1, 2]  # N = 7, C = 3
    expected = {
        "log2": [math.log2(7 / 4), math.log2(7), math.log2(7 / 2)],
        "inverse": [7 / 12, 7 / 3, 7 / 6],
        "enet": [1 / math.log(1.02 + p / 7) for p in pixels],
        "median": [0.5, 2.0, 1.0],  # plain counts: f = n_c / N = [4, 1, 2] / 7, median f = 2 / 7
    }
    assert set(expected) == set(WEIGHT_METHODS)
    for method, values in expected.items():
        np.testing.assert_allclose(class_weights(pixels, method).numpy(), values, rtol=1e-6, err_msg=method)


def test_median_frequency_uses_pixels_of_the_images_containing_each_class(tmp_path):
    write_mask(tmp_path, "a", MASK_A)
    write_mask(tmp_path, "b", MASK_B)
    # f = [4/7, 1/4, 2/3] (pixels over labelled pixels of the masks holding the class); median f = 4/7.
    weights = class_weights(count_pixels(tmp_path), "median")
    np.testing.assert_allclose(weights[:3].numpy(), [1.0, 16 / 7, 6 / 7], rtol=1e-6)


@pytest.mark.parametrize("method", list(WEIGHT_METHODS))
def test_a_class_without_pixels_gets_the_largest_weight_zero_or_an_error(method):
    pixels = [50, 0, 30, 20]
    weights = class_weights(pixels, method)
    assert torch.isfinite(weights).all()
    assert weights[1] == weights[[0, 2, 3]].max()
    assert class_weights(pixels, method, missing="zero")[1] == 0
    np.testing.assert_allclose(class_weights(pixels, method, missing="zero")[[0, 2, 3]], weights[[0, 2, 3]])
    with pytest.raises(ValueError, match="no pixels of class 1"):
        class_weights(pixels, method, missing="error")


def test_class_weights_refuses_unknown_method_and_empty_counts():
    with pytest.raises(ValueError, match="log2, inverse, median, enet"):
        class_weights([1, 2], "sqrt")
    with pytest.raises(ValueError, match="no labelled pixels"):
        class_weights([0, 0, 0])
    with pytest.raises(ValueError, match="non-negative"):
        class_weights([3, -1])


def test_class_weights_accepts_a_tensor_and_a_pixel_counts():
    tensor = class_weights(torch.tensor([4, 1, 2]), "log2")
    counts = PixelCounts(np.array([4, 1, 2]), np.ones(3, np.int64), np.full(3, 7), n_images=1)
    np.testing.assert_allclose(tensor.numpy(), class_weights(counts, "log2").numpy())


def test_weights_command_prints_a_table_and_writes_json(tmp_path, capsys):
    root = tmp_path / "data"
    write_mask(root / "train" / "masks", "00000", MASK_A, image=True)
    write_mask(root / "train" / "masks", "00001", MASK_B, image=True)
    out = tmp_path / "weights.json"
    assert main(["weights", str(root), "--method", "enet", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "2 masks, 7 labelled pixels, 1 ignored" in printed and "neck_l" in printed
    record = json.loads(out.read_text())
    assert record["method"] == "enet" and record["split"] == "train" and record["n_images"] == 2
    assert record["pixels"][:3] == [4, 1, 2] and record["images"][:3] == [2, 1, 1]
    np.testing.assert_allclose(record["weights"][:3], [1 / math.log(1.02 + p / 7) for p in (4, 1, 2)], rtol=1e-6)
    assert record["classes"] == list(CLASSES)


def test_weights_command_exits_non_zero_on_a_bad_mask(tmp_path, capsys):
    write_mask(tmp_path, "00003", np.full((4, 4), 40, dtype=np.uint8))
    assert main(["weights", str(tmp_path), "--no-progress"]) == 1
    assert "00003.png: label 40 outside 0..18 and 255" in capsys.readouterr().err


def test_reference_counts_ship_inside_the_package_as_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from importlib.resources import files
    from pathlib import Path

    import faceparse_lib
    import faceparse_lib.data
    from faceparse_lib.data.stats import REFERENCE_COUNTS_CSV

    assert REFERENCE_COUNTS_CSV.parent == Path(faceparse_lib.__file__).resolve().parent / "data"
    assert files("faceparse_lib.data").joinpath(REFERENCE_COUNTS_CSV.name).is_file()
    pyproject = tomllib.loads((Path(faceparse_lib.__file__).parents[1] / "pyproject.toml").read_text())
    assert REFERENCE_COUNTS_CSV.name in pyproject["tool"]["setuptools"]["package-data"]["faceparse_lib.data"]
