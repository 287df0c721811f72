"""Parsing ordinary photos: crops pasted back at the photo's size, overlaps, EXIF, no face, the command, uploads.

An untrained model's labels mean nothing, so these tests check geometry: models whose output is known (a constant
class, a class by position, a class by colour) show where each crop's labels land in the photo.
"""

from __future__ import annotations

import argparse
import io

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from faceparse_lib.classes import NUM_CLASSES, PALETTE
from faceparse_lib.cli.commands import predict as predict_command
from faceparse_lib.course.photos import decode_photo, photos_to_parse, uploaded_files
from faceparse_lib.data.faces import FaceBox, Framing, detect_faces
from faceparse_lib.data.layout import DatasetError, read_mask
from faceparse_lib.evaluation.photos import BOX_COLOUR, CROP_COLOUR, NoFaceFound, draw_faces, parse_photo
from faceparse_lib.models.checkpoint import save_checkpoint
from faceparse_lib.models.names import DEMO_MODEL
from faceparse_lib.models.zoo import build_model
from faceparse_lib.visual.pictures import render_photo
from photo_samples import astronaut, grace_hopper, landscape, side_by_side
from test_faces import _exif_rotated


class KnownModel(nn.Module):
    """Logits with one known class per pixel: `label(x)` gives N×H×W class indices for normalised input x."""

    def __init__(self, label, input_size: int = 64):
        super().__init__()
        self.label, self.input_size = label, input_size
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return {"out": nn.functional.one_hot(self.label(x), NUM_CLASSES).permute(0, 3, 1, 2).float() * 10 + self.bias}


def constant(cls: int) -> KnownModel:
    return KnownModel(lambda x: torch.full((x.shape[0], *x.shape[-2:]), cls, dtype=torch.long))


def by_half() -> KnownModel:
    """Class 4 (l_eye) on the left half of the model's input, 5 (r_eye) on the right."""
    def label(x):
        width = x.shape[-1]
        labels = torch.full((x.shape[0], *x.shape[-2:]), 4, dtype=torch.long)
        labels[..., width // 2:] = 5
        return labels
    return KnownModel(label)


def by_colour() -> KnownModel:
    """Class 1 for a crop that is mostly red, 2 for one mostly blue."""
    def label(x):
        redder = x[:, 0].mean(dim=(1, 2)) > x[:, 2].mean(dim=(1, 2))
        return torch.where(redder, 1, 2)[:, None, None].expand(-1, *x.shape[-2:]).long()
    return KnownModel(label)


def crop_mask(shape, crop: FaceBox) -> np.ndarray:
    top, left, side = crop.rounded()
    inside = np.zeros(shape, bool)
    inside[max(0, top):top + side, max(0, left):left + side] = True
    return inside


def test_the_mask_has_the_photos_size_and_labels_only_inside_the_crop():
    photo = astronaut()
    mask, faces = parse_photo(constant(1), photo)
    assert mask.shape == photo.shape[:2] and mask.dtype == np.uint8
    (face,) = faces
    inside = crop_mask(mask.shape, face.crop)
    assert (mask[inside] == 1).all() and (mask[~inside] == 0).all()
    assert face.crop.contains(*face.box.center)


def test_an_untrained_network_puts_its_labels_inside_the_crop_at_the_photos_size():
    torch.manual_seed(0)
    model = build_model(DEMO_MODEL)
    model.input_size = 128
    photo = grace_hopper()
    mask, (face,) = parse_photo(model, photo)
    assert mask.shape == photo.shape[:2]
    assert not mask[~crop_mask(mask.shape, face.crop)].any()


def test_labels_land_where_the_model_put_them_in_its_crop():
    mask, (face,) = parse_photo(by_half(), astronaut())
    top, left, side = face.crop.rounded()
    row = min(mask.shape[0] - 1, top + side // 2)
    assert (mask[row, max(0, left):left + side // 2 - 1] == 4).all()
    assert (mask[row, left + side // 2 + 1:min(512, left + side)] == 5).all()


def by_quarter() -> KnownModel:
    """Classes 1, 2 (top left, top right), 3, 4 (bottom left, bottom right) by quarter of the model's input."""
    def label(x):
        height, width = x.shape[-2:]
        labels = torch.full((x.shape[0], height, width), 1, dtype=torch.long)
        labels[..., :, width // 2:] = 2
        labels[..., height // 2:, :] += 2
        return labels
    return KnownModel(label)


def test_a_crop_clipped_at_the_top_left_pastes_its_centre_at_the_crops_centre():
    photo = np.zeros((100, 100, 3), np.uint8)
    mask, (face,) = parse_photo(by_quarter(), photo, framing=Framing(2.0, 0.0), detector=lambda _: [FaceBox(0, 0, 40)])
    assert face.crop.rounded() == (-20, -20, 80)  # centre at (20, 20), a quarter of it inside the photo
    assert (mask[:19, :19] == 1).all() and (mask[:19, 21:60] == 2).all()
    assert (mask[21:60, :19] == 3).all() and (mask[21:60, 21:60] == 4).all()
    assert not mask[60:].any() and not mask[:, 60:].any()


def test_a_crop_past_the_edge_is_parsed_and_cut_back_to_the_photo():
    photo = astronaut()[40:, 120:]  # the face near the top-left corner: its crop leaves the photo
    mask, (face,) = parse_photo(by_half(), photo)
    top, left, side = face.crop.rounded()
    assert top < 0 or left < 0
    assert mask.shape == photo.shape[:2]
    inside = crop_mask(mask.shape, face.crop)
    assert (mask[inside] > 0).all() and (mask[~inside] == 0).all()


def test_where_crops_overlap_the_face_whose_crop_centre_is_nearer_wins():
    photo = np.zeros((100, 200, 3), np.uint8)
    photo[:, :100, 0] = 255  # red left half, blue right half
    photo[:, 100:, 2] = 255
    boxes = [FaceBox(30, 50, 40), FaceBox(30, 110, 40)]  # crops: columns 30..110 and 90..170, rows 10..90
    mask, faces = parse_photo(by_colour(), photo, framing=Framing(scale=2.0, shift=0.0), detector=lambda _: boxes)
    assert [f.crop.rounded() for f in faces] == [(10, 30, 80), (10, 90, 80)]
    assert (mask[10:90, 30:100] == 1).all() and (mask[10:90, 100:170] == 2).all()
    assert not mask[:10].any() and not mask[90:].any() and not mask[:, :30].any() and not mask[:, 170:].any()


def test_two_faces_side_by_side_are_both_parsed():
    photo = side_by_side(astronaut(), grace_hopper())
    mask, faces = parse_photo(constant(1), photo)
    assert len(faces) == 2 and mask.shape == photo.shape[:2]
    for face in faces:
        assert (mask[crop_mask(mask.shape, face.crop)] == 1).all()


def test_no_face_is_said_in_one_line_and_whole_image_parses_it_anyway(tmp_path):
    photo = landscape()
    with pytest.raises(NoFaceFound) as caught:
        parse_photo(constant(1), photo)
    message = str(caught.value)
    assert "no face found" in message and "whole_image=True" in message and "\n" not in message
    path = tmp_path / "rocket.png"
    Image.fromarray(photo).save(path)
    with pytest.raises(NoFaceFound, match="rocket.png: no face found"):
        parse_photo(constant(1), path)
    mask, faces = parse_photo(constant(3), photo, whole_image=True)
    assert faces == [] and mask.shape == photo.shape[:2] and (mask == 3).all()


def test_an_exif_rotated_copy_gives_the_same_parse_as_the_upright_photo(tmp_path):
    photo = astronaut()
    upright_mask, upright_faces = parse_photo(by_half(), photo)
    path = _exif_rotated(photo, tmp_path / "phone.png")
    rotated_mask, rotated_faces = parse_photo(by_half(), path)
    assert rotated_faces == upright_faces
    np.testing.assert_array_equal(rotated_mask, upright_mask)
    with Image.open(path) as opened:
        np.testing.assert_array_equal(parse_photo(by_half(), opened)[0], upright_mask)


def test_a_wrong_photo_array_is_refused_and_grey_or_rgba_arrays_are_converted():
    with pytest.raises(ValueError, match="expected uint8 RGB"):
        parse_photo(constant(1), np.zeros((64, 64), np.float32))
    grey = astronaut().mean(axis=2).astype(np.uint8)
    for photo in (grey, np.dstack([astronaut(), np.full((512, 512), 255, np.uint8)])):
        mask, faces = parse_photo(constant(1), photo)
        assert mask.shape == (512, 512) and len(faces) == 1
    from faceparse_lib.evaluation.photos import as_photo

    clear = np.zeros((4, 4, 4), np.uint8)  # black, fully transparent: shown on white
    assert (as_photo(clear) == 255).all() and (as_photo(grey) == grey[..., None]).all()


def test_a_face_whose_crop_misses_the_photo_is_skipped():
    photo = np.zeros((100, 100, 3), np.uint8)
    outside, inside = FaceBox(500, 500, 20), FaceBox(30, 30, 40)
    mask, faces = parse_photo(constant(1), photo, framing=Framing(1.0, 0.0), detector=lambda _: [outside, inside])
    assert [f.box for f in faces] == [inside] and (mask[30:70, 30:70] == 1).all()
    with pytest.raises(NoFaceFound):
        parse_photo(constant(1), photo, detector=lambda _: [outside])


def test_a_large_photo_is_labelled_at_most_max_paste_side_then_scaled_up_to_its_size(monkeypatch):
    from faceparse_lib.evaluation import photos

    sizes = []
    real = photos.predict_probs
    monkeypatch.setattr(photos, "predict_probs", lambda *a, **k: sizes.append(tuple(a[2])) or real(*a, **k))
    monkeypatch.setattr(photos, "MAX_PASTE_SIDE", 300)
    mask, faces = parse_photo(by_half(), np.zeros((450, 630, 3), np.uint8), whole_image=True)
    assert sizes == [(214, 300)]
    assert mask.shape == (450, 630) and faces == []
    assert (mask[:, :312] == 4).all() and (mask[:, 318:] == 5).all()


def test_draw_faces_outlines_the_box_green_and_the_crop_yellow():
    photo = np.zeros((100, 100, 3), np.uint8)
    (face,) = parse_photo(constant(1), photo, framing=Framing(1.5, 0.0), detector=lambda _: [FaceBox(30, 30, 40)])[1]
    drawn = draw_faces(photo, [face], width=1)
    assert tuple(drawn[30, 50]) == BOX_COLOUR and tuple(drawn[69, 50]) == BOX_COLOUR
    assert tuple(drawn[20, 50]) == CROP_COLOUR and tuple(drawn[50, 20]) == CROP_COLOUR
    assert not drawn[50, 50].any() and not photo.any()


def test_render_photo_shows_photo_parse_and_overlay_with_the_boxes():
    photo = astronaut()
    mask, faces = parse_photo(constant(1), photo)
    picture = render_photo(photo, mask, faces)
    assert picture.shape[1] == 3 * 512 + 2 * 4 and picture.shape[0] > 512
    top, left, side = faces[0].box.rounded()
    body = picture[-512:]
    parse_panel = body[:, 516:1028]
    assert tuple(body[top, left + side // 2]) == BOX_COLOUR and tuple(parse_panel[top, left + side // 2]) == BOX_COLOUR
    assert tuple(parse_panel[top + side // 2, left + side // 2]) == tuple(PALETTE[1])


# The command.

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp("run")
    config = {"model": DEMO_MODEL, "num_classes": 19, "input_size": 64, "data_root": "data", "class_weights": None}
    save_checkpoint({"model": build_model(DEMO_MODEL).state_dict(), "config": config, "iteration": 1}, run / "best.pt")
    return run


def run_predict(argv):
    parser = argparse.ArgumentParser()
    predict_command.add_arguments(parser)
    return predict_command.run(parser.parse_args(argv))


@pytest.fixture
def photo_dir(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(astronaut()).save(photos / "astronaut.png")
    Image.fromarray(side_by_side(astronaut(), grace_hopper())).save(photos / "two.jpg", quality=95)
    Image.fromarray(landscape()).save(photos / "rocket.jpg")
    _exif_rotated(astronaut(), photos / "phone.png")
    return photos


def test_predict_faces_writes_masks_at_each_photos_size_and_names_the_photo_without_a_face(run_dir, photo_dir, tmp_path, capsys):
    out, overlays = tmp_path / "masks", tmp_path / "overlays"
    argv = [str(run_dir), str(photo_dir), str(out), "--faces", "--overlays", str(overlays), "--device", "cpu", "--no-progress"]
    assert run_predict(argv) == 1
    printed = capsys.readouterr()
    assert "astronaut.png: 1 face" in printed.out and "two.jpg: 2 faces" in printed.out
    assert "rocket.jpg: no face found (--whole-image parses it as an aligned face)" in printed.err
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.png", "phone.png", "two.png"]
    assert read_mask(out / "two.png").shape == (512, 512 + round(512 * 512 / 600))
    np.testing.assert_array_equal(read_mask(out / "phone.png"), read_mask(out / "astronaut.png"))
    overlay = np.asarray(Image.open(overlays / "astronaut.png").convert("RGB"))
    (box,) = detect_faces(astronaut())
    top, left, side = box.rounded()
    assert overlay.shape == (512, 512, 3) and tuple(overlay[top, left + side // 2]) == BOX_COLOUR

    assert run_predict(argv[:3] + ["--faces", "--whole-image", "--device", "cpu", "--no-progress"]) == 0
    assert "rocket.jpg: no face, parsed whole" in capsys.readouterr().out
    assert read_mask(out / "rocket.png").shape == landscape().shape[:2]


def test_whole_image_without_faces_and_scales_with_faces_are_refused_before_loading_a_model(photo_dir, tmp_path):
    missing = str(tmp_path / "no-such-run")
    with pytest.raises(ValueError, match="--whole-image goes with --faces"):
        run_predict([missing, str(photo_dir), str(tmp_path / "out"), "--whole-image"])
    with pytest.raises(ValueError, match="--scales does not apply"):
        run_predict([missing, str(photo_dir), str(tmp_path / "out"), "--faces", "--scales", "1", "1.25"])


def test_predict_faces_renumbers_and_zips_the_masks(run_dir, photo_dir, tmp_path, capsys):
    from faceparse_lib.classes import remap_labels

    (photo_dir / "rocket.jpg").unlink()
    common = ["--faces", "--device", "cpu", "--no-progress"]
    assert run_predict([str(run_dir), str(photo_dir), str(tmp_path / "kit"), *common]) == 0
    argv = [str(run_dir), str(photo_dir), str(tmp_path / "bisenet"), *common, "--label-order", "face-parsing.pytorch",
            "--zip", str(tmp_path / "masks.zip")]
    assert run_predict(argv) == 0
    assert "packed 3 masks" in capsys.readouterr().out
    for name in ("astronaut.png", "two.png", "phone.png"):
        kit = read_mask(tmp_path / "kit" / name)
        np.testing.assert_array_equal(read_mask(tmp_path / "bisenet" / name), remap_labels(kit, "celebamask", "face-parsing.pytorch"))
    import zipfile

    assert sorted(zipfile.ZipFile(tmp_path / "masks.zip").namelist()) == ["masks/astronaut.png", "masks/phone.png", "masks/two.png"]


# Uploads in a notebook.

def _png_bytes(photo: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="PNG")
    return buffer.getvalue()


def test_uploads_read_the_same_from_colab_ipywidgets_7_and_ipywidgets_8():
    data = _png_bytes(astronaut()[:64, :48])
    colab = {"me.png": data}
    widgets7 = {"me.png": {"metadata": {"name": "me.png", "type": "image/png", "size": len(data)}, "content": data}}
    widgets8 = ({"name": "me.png", "type": "image/png", "size": len(data), "content": memoryview(data)},)
    for value in (colab, widgets7, widgets8):
        assert uploaded_files(value) == [("me.png", data)]
        (name, photo), = photos_to_parse(value).items()
        assert name == "me.png" and photo.shape == (64, 48, 3)
    assert uploaded_files({}) == [] and uploaded_files(()) == [] and uploaded_files(None) == []


def test_nothing_uploaded_gives_the_sample_photos_and_a_bad_upload_is_named_and_skipped(capsys):
    samples = photos_to_parse(())
    assert "astronaut.png" in samples and all(p.ndim == 3 for p in samples.values())
    with pytest.raises(DatasetError, match="notes.txt: not a readable image"):
        decode_photo("notes.txt", b"hello")
    photos = photos_to_parse({"notes.txt": b"hello", "me.png": _png_bytes(astronaut())})
    assert list(photos) == ["me.png"]
    assert "skipped notes.txt: not a readable image" in capsys.readouterr().out


def test_parse_and_render_draws_each_photo_and_parses_a_faceless_one_whole(capsys):
    from faceparse_lib.course.photos import parse_and_render

    pictures = parse_and_render(constant(1), {"me.png": astronaut(), "rocket.png": landscape()}, tta=None, max_width=900)
    assert list(pictures) == ["me.png", "rocket.png"]
    assert all(p.shape[1] == 900 and p.dtype == np.uint8 for p in pictures.values())
    assert "rocket.png: no face found" in capsys.readouterr().out


@pytest.mark.parametrize("side", [60, 1200])
def test_a_model_trained_at_each_images_own_size_parses_a_face_crop_at_512(side):
    seen = []
    model = KnownModel(lambda x: seen.append(tuple(x.shape[-2:])) or torch.zeros((x.shape[0], *x.shape[-2:]),
                                                                               dtype=torch.long), input_size=None)
    photo = np.full((side * 2, side * 2, 3), 128, np.uint8)
    box = FaceBox(side // 2, side // 2, side)  # a face of `side` pixels, not CelebA-HQ's 512
    parse_photo(model, photo, detector=lambda image: [box])
    assert seen and all(shape == (512, 512) for shape in seen)
    seen.clear()
    parse_photo(model, photo, whole_image=True)  # the whole photo too: never at 2,400 px
    assert seen == [(512, 512)]
