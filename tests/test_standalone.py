"""faceparse_lib.standalone: the one image reader every path uses (run.py's too) and the inference the kit shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from faceparse_lib.course.photos import decode_photo
from faceparse_lib.data.faces import read_photo
from faceparse_lib.data.layout import read_image
from faceparse_lib.evaluation.inference import predict_image, predict_probs
from faceparse_lib.evaluation.masks import predict_folder
from faceparse_lib.evaluation.photos import as_photo
from faceparse_lib.models.zoo import build_model
from faceparse_lib.standalone import inference as core
from faceparse_lib.standalone.images import mask_picture, read_rgb, to_rgb, upright_size


def exif_rotated(photo: np.ndarray, path):
    """Save `photo` stored turned 90° clockwise, with EXIF orientation 8 (turn it back 90° to view upright)."""
    stored = Image.fromarray(photo).transpose(Image.Transpose.ROTATE_270)
    exif = Image.Exif()
    exif[0x0112] = 8
    stored.save(path, exif=exif)
    return path


def cutout() -> np.ndarray:
    """8×6 RGBA: the top half opaque black, the bottom half transparent (black underneath)."""
    rgba = np.zeros((8, 6, 4), np.uint8)
    rgba[:4, :, 3] = 255
    return rgba


def tricky_files(folder) -> dict[str, np.ndarray]:
    """Files whose naive read (`convert("RGB")`, no EXIF) differs from how a viewer shows them, with what it shows."""
    folder.mkdir(parents=True, exist_ok=True)
    upright = np.random.default_rng(0).integers(0, 255, (10, 14, 3), dtype=np.uint8)
    exif_rotated(upright, folder / "phone.png")
    Image.fromarray(cutout()).save(folder / "cutout.png")
    grey16 = (np.arange(6 * 8, dtype=np.uint32).reshape(6, 8) * 1300).astype(np.uint16)
    Image.fromarray(grey16).save(folder / "deep.png")
    shown_grey = np.round(grey16 / 65535 * 255).astype(np.uint8)
    shown_cutout = np.where(np.arange(8)[:, None, None] < 4, 0, 255).astype(np.uint8) * np.ones((8, 6, 3), np.uint8)
    return {"phone.png": upright, "cutout.png": shown_cutout, "deep.png": np.repeat(shown_grey[..., None], 3, axis=2)}


def test_every_reader_of_the_kit_reads_a_file_as_a_viewer_shows_it(tmp_path):
    for name, shown in tricky_files(tmp_path).items():
        path = tmp_path / name
        with Image.open(path) as opened:
            assert not np.array_equal(np.asarray(opened.convert("RGB")), shown), f"{name} is not tricky"
            assert upright_size(opened) == (shown.shape[1], shown.shape[0])
        reads = {"read_rgb (run.py)": read_rgb(path), "read_image (predict, evaluate)": read_image(path),
                 "read_photo (--faces)": read_photo(path), "as_photo": as_photo(path),
                 "decode_photo (uploads)": decode_photo(name, path.read_bytes())}
        for reader, pixels in reads.items():
            assert pixels.dtype == np.uint8, reader
            np.testing.assert_allclose(pixels, shown, atol=1, err_msg=f"{reader} on {name}")


def test_16_bit_greyscale_and_transparent_photos_become_plain_rgb(tmp_path):
    grey = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)  # 0 .. 65,520
    Image.fromarray(grey).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    photo = read_rgb(tmp_path / "deep.png")
    assert photo.shape == (64, 64, 3) and photo.dtype == np.uint8
    np.testing.assert_allclose(photo[..., 0], grey / 65535 * 255, atol=1)
    Image.fromarray(cutout()).save(tmp_path / "cutout.png")
    photo = read_rgb(tmp_path / "cutout.png")
    assert (photo[:4] == 0).all() and (photo[4:] == 255).all()


def test_float_32_bit_and_keyed_transparency_photos_are_scaled_and_laid_on_white():
    ramp = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    assert to_rgb(Image.fromarray(ramp))[..., 0].tolist() == np.round(ramp * 255).astype(int).tolist()
    wide = Image.fromarray((ramp * 1_000_000).astype(np.int32))  # 32-bit: scaled by its maximum
    assert to_rgb(wide)[-1, -1, 0] == 255 and to_rgb(wide)[0, 1, 0] == round(255 / 15)
    keyed = Image.fromarray(np.array([[0, 7]], np.uint8))
    keyed.info["transparency"] = 0  # grey 0 is transparent
    assert to_rgb(keyed).tolist() == [[[255, 255, 255], [7, 7, 7]]]


class Brightness(nn.Module):
    """19 channels: skin (1) where the normalised image is bright, background (0) where it is dark."""

    def forward(self, x):
        logits = torch.full((x.shape[0], 19, *x.shape[-2:]), -10.0)
        logits[:, 0] = 0
        logits[:, 1] = x.mean(dim=1) * 10
        return {"out": logits}


def test_predict_folder_parses_a_transparent_png_as_the_photo_path_does(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(cutout()).save(images / "cutout.png")
    summary = predict_folder(Brightness(), images, tmp_path / "masks", input_size=None)
    mask = np.asarray(Image.open(summary.masks[0]))
    assert (mask[:4] == 0).all() and (mask[4:] == 1).all()  # the transparent half is laid on white, not black
    np.testing.assert_array_equal(mask, predict_image(Brightness(), as_photo(images / "cutout.png"), input_size=None))


def test_the_kits_model_pads_to_its_size_divisor_exactly_as_run_py_does():
    model = build_model("deeplabv3plus_lcnet100").eval()
    assert model.size_divisor == 16
    x = torch.rand(1, 3, 37, 50)  # neither side a multiple of 16
    with torch.inference_mode():
        kit = model(x)["out"]
        alone = core.padded_logits(model.model, x, model.size_divisor)
        naive = nn.functional.interpolate(model.model(nn.functional.pad(x, (0, 14, 0, 11))), size=(48, 64))
    assert kit.shape[-2:] == (37, 50)
    assert torch.equal(kit, alone)
    assert torch.allclose(kit, naive[..., :37, :50], atol=1e-5)


def test_the_kits_probabilities_are_the_standalone_arithmetic_with_the_kits_facts():
    from faceparse_lib.classes import FLIP_PAIRS
    from faceparse_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    model = build_model("unet_lcnet050").eval()
    images = torch.rand(2, 3, 40, 52)
    kit = predict_probs(model, images, (45, 50), tta="flip", scales=(0.75, 1.0), input_size=32)
    with torch.inference_mode():
        alone = core.mean_probabilities(lambda v: model(v)["out"], images, (45, 50), IMAGENET_MEAN, IMAGENET_STD,
                                        FLIP_PAIRS, "flip", (0.75, 1.0), 32)
    assert torch.equal(kit, alone)
    assert torch.allclose(kit.sum(dim=1), torch.ones(2, 45, 50), atol=1e-5)


@pytest.mark.parametrize("tta,scales,message", [("mirror", None, "unknown tta"), (None, (), "positive factors"),
                                                (None, (0.0, 1.0), "positive factors")])
def test_views_that_make_no_sense_are_refused(tta, scales, message):
    with pytest.raises(ValueError, match=message):
        core.mean_probabilities(lambda v: v, torch.zeros(1, 3, 4, 4), (4, 4), (0, 0, 0), (1, 1, 1), (), tta, scales)


def test_a_mask_picture_stores_class_indices_and_refuses_anything_else():
    mask = np.array([[0, 5], [18, 1]], np.uint8)
    picture = mask_picture(mask, [0, 0, 0] * 256)
    assert picture.mode == "P" and np.array_equal(np.asarray(picture), mask)
    with pytest.raises(ValueError, match="expected H×W uint8 class indices"):
        mask_picture(mask.astype(np.int64), [0] * 768)
