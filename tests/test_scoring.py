import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import faceparse_lib.standalone.inference as core
from faceparse_lib.classes import CLASSES, IGNORE_INDEX, NUM_CLASSES, PALETTE
from faceparse_lib.data.layout import read_mask
from faceparse_lib.evaluation.scoring import evaluate
from faceparse_lib.evaluation.inference import flip_back, predict_image, predict_probs
from faceparse_lib.evaluation.masks import predict_folder, write_mask, zip_masks
from faceparse_lib.data.transforms import normalize

L_EYE, R_EYE = CLASSES.index("l_eye"), CLASSES.index("r_eye")


class HalvesModel(nn.Module):
    """Whatever it sees: l_eye on the left half, r_eye on the right half (more sure of the left than the right).

    The unequal confidences keep argmax free of ties, so a flip mirrored back without the left/right swap
    visibly turns the right half into l_eye instead of landing on a tie.
    """

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 3, 1)  # a parameter (for the device) and a submodule (for the training flags)
        self.seen: list[tuple[tuple[int, int], bool]] = []

    def forward(self, x):
        n, _, h, w = x.shape
        self.seen.append((tuple(x.shape[-2:]), self.training))
        logits = torch.zeros(n, NUM_CLASSES, h, w, device=x.device)
        logits[:, L_EYE, :, : w // 2] = 3.0
        logits[:, R_EYE, :, w // 2 :] = 2.0
        return {"out": logits}


def halves_mask(h, w):
    mask = torch.full((h, w), R_EYE, dtype=torch.long)
    mask[:, : w // 2] = L_EYE
    return mask


def halves_dataset(n=3, h=48, w=40):
    """(image in [0, 1], mask) pairs whose truth is exactly what HalvesModel predicts."""
    generator = torch.Generator().manual_seed(0)
    return [(torch.rand(3, h, w, generator=generator), halves_mask(h, w)) for _ in range(n)]


def test_flip_tta_leaves_the_left_right_model_score_unchanged():
    model, data = HalvesModel(), halves_dataset()
    plain = evaluate(model, data)
    flipped = evaluate(model, data, tta="flip")
    assert plain.miou() == flipped.miou() == 1.0
    assert torch.equal(plain.matrix, flipped.matrix)


def test_flip_mirrored_back_without_the_swap_would_mix_left_and_right(monkeypatch):
    monkeypatch.setattr(core, "flip_back", lambda output, pairs: output.flip(-1))  # what a swap-less toolkit does
    matrix = evaluate(HalvesModel(), halves_dataset(), tta="flip")
    assert matrix.miou() < 1.0
    assert matrix.iou()[R_EYE] == 0.0  # the right half, mirrored back unswapped, became l_eye


def test_flip_back_swaps_left_right_channels_of_the_mirrored_output():
    model, image = HalvesModel(), torch.rand(1, 3, 8, 10)
    direct = model(image)["out"].argmax(1)
    assert torch.equal(flip_back(model(image.flip(-1))["out"]).argmax(1), direct)
    assert not torch.equal(model(image.flip(-1))["out"].flip(-1).argmax(1), direct)


def test_flip_back_refuses_a_model_with_too_few_channels():
    with pytest.raises(ValueError, match="does not fit 3 output channels"):
        flip_back(torch.zeros(1, 3, 4, 4))


def test_model_run_smaller_than_the_masks_is_scored_at_the_mask_size():
    model, data = HalvesModel(), halves_dataset(n=3, h=48, w=40)
    matrix = evaluate(model, data, input_size=16, batch_size=2)
    assert {size for size, _ in model.seen} == {(16, 16)}
    assert int(matrix.matrix.sum()) == 3 * 48 * 40
    assert matrix.miou() == 1.0


def test_input_size_defaults_to_the_model_attribute():
    model = HalvesModel()
    model.input_size = 24
    evaluate(model, halves_dataset(n=1))
    assert [size for size, _ in model.seen] == [(24, 24)]


def test_input_size_none_runs_each_image_at_its_own_size_whatever_the_model_says():
    model = HalvesModel()
    model.input_size = 24
    evaluate(model, halves_dataset(n=1, h=32, w=40), input_size=None)
    predict_image(model, torch.rand(3, 20, 28), input_size=None)
    assert [size for size, _ in model.seen] == [(32, 40), (20, 28)]


def test_images_of_different_sizes_in_one_batch_are_each_scored_at_their_size():
    data = halves_dataset(n=2, h=32, w=32) + halves_dataset(n=1, h=20, w=36)
    matrix = evaluate(HalvesModel(), data, batch_size=3)
    assert int(matrix.matrix.sum()) == 2 * 32 * 32 + 20 * 36
    assert matrix.miou() == 1.0


def test_evaluate_runs_in_eval_mode_and_restores_train_mode():
    model = HalvesModel().train()
    model.head.eval()  # a submodule with its own flag keeps it
    evaluate(model, halves_dataset(n=2), tta="flip")
    assert all(not training for _, training in model.seen)
    assert model.training and not model.head.training


def test_already_normalised_images_are_refused():
    data = [(normalize(image), mask) for image, mask in halves_dataset(n=1)]
    with pytest.raises(ValueError, match="already normalised"):
        evaluate(HalvesModel(), data)


def test_uint8_images_are_refused_with_the_expected_range():
    image = torch.randint(0, 256, (1, 3, 8, 8), dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"expected float images in \[0, 1\]"):
        predict_probs(HalvesModel(), image, (8, 8))


def test_multi_scale_runs_each_scale_relative_to_the_base_size_and_scores_at_mask_size():
    model = HalvesModel()
    matrix = evaluate(model, halves_dataset(n=1, h=32, w=48), scales=(0.5, 1.0, 1.5), tta="flip")
    assert [size for size, _ in model.seen] == [(16, 24)] * 2 + [(32, 48)] * 2 + [(48, 72)] * 2
    assert int(matrix.matrix.sum()) == 32 * 48 and matrix.miou() == 1.0

    model = HalvesModel()
    evaluate(model, halves_dataset(n=1, h=32, w=48), scales=(0.75, 1.25), input_size=64)
    assert [size for size, _ in model.seen] == [(48, 48), (80, 80)]


def test_predict_probs_averages_probabilities_at_the_requested_size():
    probs = predict_probs(HalvesModel(), torch.rand(2, 3, 16, 20), (30, 40), tta="flip", scales=(1.0, 2.0))
    assert probs.shape == (2, NUM_CLASSES, 30, 40)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(2, 30, 40))


def test_ignore_pixels_are_not_counted():
    data = halves_dataset(n=2, h=24, w=24)
    data[0][1][:5] = IGNORE_INDEX
    matrix = evaluate(HalvesModel(), data)
    assert int(matrix.matrix.sum()) == 2 * 24 * 24 - 5 * 24
    assert matrix.miou() == 1.0


def test_unknown_tta_is_refused():
    with pytest.raises(ValueError, match="unknown tta 'rotate'"):
        evaluate(HalvesModel(), halves_dataset(n=1), tta="rotate")


def test_predict_image_returns_a_class_index_mask_at_the_image_size():
    image = np.random.default_rng(0).integers(0, 256, (21, 34, 3), dtype=np.uint8)
    mask = predict_image(HalvesModel(), image, input_size=16)
    assert mask.dtype == np.uint8 and mask.shape == (21, 34)
    assert (mask[:, :17] == L_EYE).all() and (mask[:, 17:] == R_EYE).all()


def test_written_mask_is_a_palette_png_that_reads_back_as_indices(tmp_path):
    mask = np.random.default_rng(0).integers(0, NUM_CLASSES, (13, 29), dtype=np.uint8)
    path = write_mask(mask, tmp_path / "m.png")
    with Image.open(path) as picture:
        assert picture.mode == "P"
        palette = np.array(picture.getpalette()[: 3 * NUM_CLASSES], dtype=np.uint8).reshape(-1, 3)
    np.testing.assert_array_equal(palette, PALETTE)
    np.testing.assert_array_equal(read_mask(path), mask)
    assert [p.name for p in tmp_path.iterdir()] == ["m.png"]  # no temporary file left


def _write_images(folder, sizes):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, (h, w) in sizes.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / name)


def test_predict_folder_keeps_each_image_size_and_stem(tmp_path):
    _write_images(tmp_path / "in", {"a.jpg": (37, 53), "b.png": (60, 44), "c.jpeg": (37, 53)})
    summary = predict_folder(HalvesModel(), tmp_path / "in", tmp_path / "out", input_size=32, batch_size=3)
    assert summary.ok and sorted(p.name for p in summary.masks) == ["a.png", "b.png", "c.png"]
    for stem, (h, w) in {"a": (37, 53), "b": (60, 44)}.items():
        mask = read_mask(tmp_path / "out" / f"{stem}.png")
        assert mask.shape == (h, w)
        image = np.array(Image.open(tmp_path / "in" / f"{stem}.{'jpg' if stem == 'a' else 'png'}").convert("RGB"))
        np.testing.assert_array_equal(mask, predict_image(HalvesModel(), image, input_size=32))


def test_predict_folder_reports_an_unreadable_image_and_predicts_the_others(tmp_path, caplog):
    _write_images(tmp_path / "in", {"a.jpg": (20, 30), "c.jpg": (20, 30)})
    (tmp_path / "in" / "b.jpg").write_bytes(b"not a jpeg at all")
    (tmp_path / "in" / "notes.txt").write_text("skipped, not an image")
    summary = predict_folder(HalvesModel(), tmp_path / "in", tmp_path / "out", batch_size=2)
    assert [path.name for path, _ in summary.failed] == ["b.jpg"]
    assert "b.jpg" in summary.failed[0][1] and "b.jpg" in caplog.text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]


def test_predict_folder_refuses_a_second_image_with_the_same_stem(tmp_path):
    _write_images(tmp_path / "in", {"a.jpg": (20, 30), "a.png": (20, 30)})
    summary = predict_folder(HalvesModel(), tmp_path / "in", tmp_path / "out")
    assert [path.name for path, _ in summary.failed] == ["a.png"] and len(summary.masks) == 1


def test_predict_folder_refuses_to_write_into_its_input_folder(tmp_path):
    _write_images(tmp_path / "in", {"a.png": (20, 30)})
    with pytest.raises(ValueError, match="input folder"):
        predict_folder(HalvesModel(), tmp_path / "in", tmp_path / "in")


def test_predict_folder_writes_colour_overlays(tmp_path):
    _write_images(tmp_path / "in", {"a.jpg": (20, 30)})
    summary = predict_folder(HalvesModel(), tmp_path / "in", tmp_path / "out", overlay_dir=tmp_path / "overlays")
    with Image.open(summary.overlays[0]) as picture:
        assert picture.mode == "RGB" and picture.size == (30, 20)


def test_zip_masks_packs_the_masks_in_masks_at_the_top_or_flat_by_name(tmp_path):
    paths = [write_mask(np.zeros((4, 4), np.uint8), tmp_path / "m" / f"{stem}.png") for stem in ("x", "y")]
    zip_path = zip_masks(paths, tmp_path / "hand_in.zip")
    with zipfile.ZipFile(zip_path) as archive:
        assert sorted(archive.namelist()) == ["masks/x.png", "masks/y.png"]  # what the challenge's page asks
        assert archive.read("masks/x.png") == paths[0].read_bytes()
    with zipfile.ZipFile(zip_masks(paths, tmp_path / "flat.zip", folder="")) as archive:
        assert sorted(archive.namelist()) == ["x.png", "y.png"]
    (tmp_path / "flat.zip").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hand_in.zip", "m"]
