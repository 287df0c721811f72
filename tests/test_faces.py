"""Faces in ordinary photos: the detector on real photos, CelebA-HQ framing, border padding, EXIF orientation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from faceparse_lib.data.faces import (DEFAULT_FRAMING, FaceBox, Framing, cut_square, detect_faces, measure_framing,
                                      read_photo)
from faceparse_lib.data.layout import DatasetError
from photo_samples import astronaut, grace_hopper, landscape, side_by_side


def test_the_astronauts_face_is_found_where_it_is():
    boxes = detect_faces(astronaut())
    assert len(boxes) == 1
    box = boxes[0]
    assert abs(box.top - 70) < 15 and abs(box.left - 175) < 15 and 80 < box.size < 120


def test_grace_hoppers_face_is_found_where_it_is():
    boxes = detect_faces(grace_hopper())
    assert len(boxes) == 1
    assert abs(boxes[0].top - 125) < 25 and abs(boxes[0].left - 169) < 25 and 170 < boxes[0].size < 240


def test_two_photos_side_by_side_give_two_faces_one_in_each_half():
    photo = side_by_side(astronaut(), astronaut()[:, ::-1])
    boxes = detect_faces(photo)
    assert len(boxes) == 2
    columns = sorted(box.center[1] for box in boxes)
    assert columns[0] < 512 < columns[1]


def test_a_landscape_has_no_face():
    assert detect_faces(landscape()) == []


def test_a_big_photo_is_searched_downscaled_and_boxes_come_back_in_its_pixels():
    small = astronaut()
    big = np.asarray(Image.fromarray(small).resize((1536, 1536), Image.Resampling.BILINEAR))
    (box,) = detect_faces(small)
    (big_box,) = detect_faces(big)
    assert big_box.size == pytest.approx(3 * box.size, rel=0.15)
    assert big_box.center[0] == pytest.approx(3 * box.center[0], abs=0.1 * big_box.size)
    assert big_box.center[1] == pytest.approx(3 * box.center[1], abs=0.1 * big_box.size)


def test_a_tiny_or_wrongly_shaped_image_is_handled():
    assert detect_faces(np.zeros((10, 12, 3), np.uint8)) == []
    with pytest.raises(ValueError, match="H×W×3 uint8"):
        detect_faces(np.zeros((64, 64), np.uint8))


def test_the_crop_is_scale_box_sides_centred_shift_box_sides_below_the_box():
    crop = Framing(scale=2.0, shift=0.25).crop(FaceBox(top=100, left=50, size=40))
    assert crop.size == 80
    assert crop.center == (120 + 10, 70)


def test_the_default_crop_holds_hair_above_and_neck_below_the_face():
    box = FaceBox(top=100, left=100, size=100)
    crop = DEFAULT_FRAMING.crop(box)
    above, below = box.top - crop.top, crop.top + crop.size - (box.top + box.size)
    assert above > 0.3 * box.size and below > 0.2 * box.size and above > below


def test_a_crop_past_the_photos_edge_repeats_the_border_pixels():
    image = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    square = cut_square(image, FaceBox(top=-2, left=3, size=5))
    assert square.shape == (5, 5, 3)
    assert (square[0] == square[2]).all() and (square[2, :3] == image[0, 3:6]).all()
    assert (square[2:, 3] == image[0:3, 5]).all() and (square[2:, 4] == image[0:3, 5]).all()
    with pytest.raises(ValueError, match="outside"):
        cut_square(image, FaceBox(top=10, left=10, size=3))


def test_measure_framing_recovers_the_framing_the_aligned_faces_were_cut_with():
    framing = Framing(scale=2.0, shift=-0.3)
    aligned = []
    for photo in (astronaut(), grace_hopper()):
        (box,) = detect_faces(photo)
        square = cut_square(photo, framing.crop(box))
        aligned.append(np.asarray(Image.fromarray(square).resize((512, 512), Image.Resampling.BILINEAR)))
    measured, found = measure_framing(aligned)
    assert found == 2
    assert measured.scale == pytest.approx(2.0, rel=0.1)
    assert measured.shift == pytest.approx(-0.3, abs=0.06)
    with pytest.raises(ValueError, match="no face"):
        measure_framing([landscape()])


def _exif_rotated(photo: np.ndarray, path):
    """Save `photo` stored turned 90° clockwise, with EXIF orientation 8 (turn it back 90° to view upright)."""
    stored = Image.fromarray(photo).transpose(Image.Transpose.ROTATE_270)
    exif = Image.Exif()
    exif[0x0112] = 8
    stored.save(path, exif=exif)
    return path


def test_read_photo_turns_a_phone_photo_upright_by_its_exif_orientation(tmp_path):
    photo = astronaut()
    path = _exif_rotated(photo, tmp_path / "phone.png")
    assert np.asarray(Image.open(path)).shape[:2] == (512, 512) and not (np.asarray(Image.open(path)) == photo).all()
    assert (read_photo(path) == photo).all()


def test_read_photo_names_a_missing_or_broken_file(tmp_path):
    with pytest.raises(DatasetError, match="missing.jpg: photo not found"):
        read_photo(tmp_path / "missing.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="broken.jpg: not a readable image"):
        read_photo(tmp_path / "broken.jpg")


def test_the_framing_command_measures_a_sets_training_images(tmp_path, capsys):
    from faceparse_lib.cli import main

    images = tmp_path / "train" / "images"
    images.mkdir(parents=True)
    (box,) = detect_faces(astronaut())
    aligned = cut_square(astronaut(), Framing(scale=2.0, shift=-0.3).crop(box))
    Image.fromarray(aligned).resize((256, 256)).save(images / "0.png")
    Image.fromarray(landscape()).save(images / "1.png")
    assert main(["framing", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "a face found in 1 of 2 images" in out
    scale = float(out.split("crop side ")[1].split()[0])
    shift = float(out.split("centre ")[1].split()[0])
    assert scale == pytest.approx(2.0, rel=0.1) and shift == pytest.approx(-0.3, abs=0.06)
