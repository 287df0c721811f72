import colorsys
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as nnf
from torchvision import tv_tensors

from faceparse_lib.classes import CLASSES, FLIP_PAIRS, IGNORE_INDEX
from faceparse_lib.data.dataset import FaceParsingDataset
from faceparse_lib.data.synthetic import make_synthetic_dataset
from faceparse_lib.data.transforms import (
    CatMaxRatioCrop,
    JointCompose,
    PadTo,
    PhotoMetricDistortion,
    RandomHFlip,
    RandomResize,
    eval_transform,
    hflip,
    normalize,
    scale_saturation,
    swap_left_right,
    train_transform,
)

L_EYE, R_EYE = CLASSES.index("l_eye"), CLASSES.index("r_eye")


def position_image(height, width):
    """A 3×H×W float image whose channels 0 and 1 hold each pixel's row and column (scaled), so crops are traceable."""
    rows = torch.arange(height, dtype=torch.float32).view(-1, 1).expand(height, width)
    cols = torch.arange(width, dtype=torch.float32).view(1, -1).expand(height, width)
    return torch.stack([rows, cols, torch.zeros(height, width)]) / 1000


def box_of(image):
    """(top, left, height, width) of a crop of `position_image`."""
    return round(image[0, 0, 0].item() * 1000), round(image[1, 0, 0].item() * 1000), *image.shape[-2:]


def satisfies_crop_rule(mask, ratio=0.75):
    labels = mask[mask != IGNORE_INDEX]
    counts = torch.bincount(labels.flatten())
    counts = counts[counts > 0]
    return counts.numel() > 1 and counts.max().item() / counts.sum().item() < ratio


# --- flip -----------------------------------------------------------------------------------------------------------

def test_hflip_turns_a_left_eye_on_the_left_into_a_right_eye_on_the_right():
    mask = torch.zeros(8, 16, dtype=torch.int64)
    mask[2:5, 1:4] = L_EYE
    image = torch.rand(3, 8, 16)
    flipped_image, flipped_mask = hflip(image, mask)
    expected = torch.zeros(8, 16, dtype=torch.int64)
    expected[2:5, 12:15] = R_EYE
    assert torch.equal(flipped_mask, expected)
    assert torch.equal(flipped_image, image.flip(-1))
    assert flipped_image[:, 0, 0].tolist() == image[:, 0, 15].tolist()


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8])
def test_swap_left_right_swaps_every_pair_and_keeps_other_labels_and_ignore(dtype):
    labels = torch.tensor(list(range(len(CLASSES))) + [IGNORE_INDEX], dtype=dtype)
    swapped = swap_left_right(labels)
    expected = {**{i: i for i in labels.tolist()}, **{l: r for l, r in FLIP_PAIRS}, **{r: l for l, r in FLIP_PAIRS}}
    assert swapped.tolist() == [expected[v] for v in labels.tolist()]
    assert swapped.dtype == dtype
    assert len(FLIP_PAIRS) == 3 and sum(a != b for a, b in zip(labels.tolist(), swapped.tolist())) == 6


def test_random_hflip_flips_and_swaps_at_p1_and_leaves_the_pair_alone_at_p0():
    mask = torch.zeros(4, 6, dtype=torch.int64)
    mask[:, 0] = L_EYE
    image = torch.rand(3, 4, 6)
    out_image, out_mask = JointCompose([RandomHFlip(1.0)])(image, mask)
    assert torch.equal(out_image, image.flip(-1))
    assert (out_mask[:, -1] == R_EYE).all() and (out_mask[:, :-1] == 0).all()
    same_image, same_mask = JointCompose([RandomHFlip(0.0)])(image, mask)
    assert torch.equal(same_image, image) and torch.equal(same_mask, mask)


# --- pad ------------------------------------------------------------------------------------------------------------

def test_pad_to_fills_mask_with_ignore_and_image_with_zero_on_the_right_and_bottom():
    image, mask = torch.rand(3, 5, 7) + 0.1, torch.ones(5, 7, dtype=torch.int64)
    out_image, out_mask = JointCompose([PadTo(10)])(image, mask)
    assert out_image.shape == (3, 10, 10) and out_mask.shape == (10, 10)
    assert torch.equal(out_image[:, :5, :7], image) and torch.equal(out_mask[:5, :7], mask)
    assert (out_mask[5:] == IGNORE_INDEX).all() and (out_mask[:, 7:] == IGNORE_INDEX).all()
    assert (out_image[:, 5:] == 0).all() and (out_image[:, :, 7:] == 0).all()


# --- cat-max-ratio crop ---------------------------------------------------------------------------------------------

def test_crop_rule_counts_classes_without_ignore_pixels():
    crop = CatMaxRatioCrop(4)
    one_class = torch.ones(4, 4, dtype=torch.int64)
    assert not crop.accepts(one_class)
    three_quarters = one_class.clone()
    three_quarters[0] = 2  # 12 of 16 pixels are class 1: exactly 75 %, not below
    assert not crop.accepts(three_quarters)
    three_quarters[1, :2] = 2  # 10 of 16
    assert crop.accepts(three_quarters)
    with_ignore = one_class.clone()
    with_ignore[:2] = IGNORE_INDEX
    with_ignore[2, 0] = 0  # 7 of the 8 labelled pixels are class 1 (87.5 %); ignore pixels do not dilute it
    assert not crop.accepts(with_ignore)
    with_ignore[2, :3] = 0  # 5 of 8 (62.5 %)
    assert crop.accepts(with_ignore)


def scripted_boxes(monkeypatch, crop, boxes):
    """Make `crop.draw_box` return `boxes` in turn; returns the list of boxes actually drawn."""
    drawn = []

    def draw(height, width):
        drawn.append(boxes[len(drawn)])
        return drawn[-1]

    monkeypatch.setattr(crop, "draw_box", draw)
    return drawn


def test_crop_returns_the_first_box_that_satisfies_the_rule(monkeypatch):
    mask = torch.ones(32, 32, dtype=torch.int64)
    mask[16:, 16:] = 2  # only a crop overlapping this corner by more than 25 % passes
    crop = CatMaxRatioCrop(16)
    drawn = scripted_boxes(monkeypatch, crop, [(0, 0, 16, 16), (0, 16, 16, 16), (10, 10, 16, 16), (16, 16, 16, 16)])
    image, out_mask = JointCompose([crop])(position_image(32, 32), mask)
    assert len(drawn) == 3
    assert box_of(image) == (10, 10, 16, 16)
    assert torch.equal(out_mask, mask[10:26, 10:26]) and satisfies_crop_rule(out_mask)


def test_crop_uses_the_box_drawn_after_ten_failures_unchecked(monkeypatch):
    mask = torch.full((32, 32), 13, dtype=torch.int64)  # one class: every crop fails
    crop = CatMaxRatioCrop(16, tries=10)
    boxes = [(i, 15 - i, 16, 16) for i in range(12)]
    drawn = scripted_boxes(monkeypatch, crop, boxes)
    image, out_mask = JointCompose([crop])(position_image(32, 32), mask)
    assert len(drawn) == 11  # ten checked and rejected, the eleventh used as it is (mmseg's RandomCrop)
    assert box_of(image) == boxes[10]
    assert out_mask.shape == (16, 16) and (out_mask == 13).all()


def test_random_crops_obey_the_rule_where_plain_random_crops_mostly_do_not(monkeypatch):
    mask = torch.ones(64, 64, dtype=torch.int64)
    mask[:, 40:] = 2  # a crop of 32 must reach far enough right to hold > 25 % of class 2
    mask[:4] = IGNORE_INDEX
    crop = CatMaxRatioCrop(32)
    real_draw = crop.draw_box
    plain = [satisfies_crop_rule(mask[t:t + 32, l:l + 32]) for t in range(33) for l in range(33)]
    assert sum(plain) / len(plain) < 0.5
    drawn = []
    monkeypatch.setattr(crop, "draw_box", lambda h, w: drawn.append(1) or real_draw(h, w))
    accepted = 0
    for seed in range(30):
        drawn.clear()
        torch.manual_seed(seed)
        _, out_mask = JointCompose([crop])(position_image(64, 64), mask)
        if len(drawn) <= crop.tries:  # some try was accepted: that crop is the output
            assert satisfies_crop_rule(out_mask)
            accepted += 1
    assert accepted >= 25


def test_crop_keeps_a_smaller_input_whole_and_padding_fills_the_rest():
    mask = torch.zeros(20, 40, dtype=torch.int64)
    mask[:, 20:] = 1
    image, out_mask = JointCompose([CatMaxRatioCrop(32), PadTo(32)])(position_image(20, 40), mask)
    assert image.shape == (3, 32, 32) and out_mask.shape == (32, 32)
    assert box_of(image)[0] == 0  # all 20 rows kept
    assert (out_mask[20:] == IGNORE_INDEX).all() and (out_mask[:20] != IGNORE_INDEX).all()
    assert (image[:, 20:] == 0).all()


# --- resize ---------------------------------------------------------------------------------------------------------

def test_random_resize_keeps_masks_as_class_labels_and_sizes_in_range():
    mask = torch.zeros(50, 40, dtype=torch.int64)
    mask[10:30, 5:25] = L_EYE
    mask[20:45, 15:35] = 13
    mask[:3] = IGNORE_INDEX
    before = set(mask.unique().tolist())
    resize = JointCompose([RandomResize((0.5, 2.0))])
    sizes = set()
    for seed in range(12):
        torch.manual_seed(seed)
        image, out = resize(torch.rand(3, 50, 40), mask)
        assert out.dtype == torch.int64 and set(out.unique().tolist()) <= before
        assert image.shape[-2:] == out.shape
        h, w = out.shape
        assert 25 <= h <= 100 and 20 <= w <= 80 and abs(h / w - 50 / 40) < 0.1
        sizes.add(h)
    assert len(sizes) > 6


def test_resize_matches_mmseg_sizes_and_antialiased_bilinear_pixels():
    assert RandomResize().target_size(512, 512, 0.7) == (358, 358)  # int(512 * 0.7)
    assert RandomResize(base_size=512).target_size(512, 512, 1.5) == (768, 768)
    assert RandomResize(base_size=512).target_size(1024, 1024, 1.0) == (512, 512)  # scale (2048, 512) · r
    image = torch.rand(3, 40, 40)
    out, _ = JointCompose([RandomResize((0.5, 0.5))])(image, torch.zeros(40, 40, dtype=torch.int64))
    expected = nnf.interpolate(image[None], size=(20, 20), mode="bilinear", antialias=True, align_corners=False)[0]
    assert torch.allclose(out, expected, atol=1e-5)


# --- photometric distortion -----------------------------------------------------------------------------------------

def test_photometric_distortion_leaves_the_mask_untouched_and_the_image_in_range():
    image = torch.rand(3, 24, 24)
    mask = torch.randint(0, 19, (24, 24))
    mask[0] = IGNORE_INDEX
    changed = 0
    for seed in range(16):
        torch.manual_seed(seed)
        out_image, out_mask = JointCompose([PhotoMetricDistortion()])(image, mask)
        assert torch.equal(out_mask, mask)
        assert out_image.min() >= 0 and out_image.max() <= 1
        changed += not torch.allclose(out_image, image)
    assert changed >= 12  # all four steps skipped only 1 time in 16


def test_photometric_parameters_lie_in_mmseg_ranges():
    distort = PhotoMetricDistortion()
    draws = []
    for seed in range(300):
        torch.manual_seed(seed)
        draws.append(distort.make_params([tv_tensors.Image(torch.zeros(3, 2, 2))]))
    brightness = [d["brightness"] for d in draws if d["brightness"] is not None]
    hues = [d["hue"] * 180 for d in draws if d["hue"] is not None]
    contrasts = [d["contrast"] for d in draws if d["contrast"] is not None]
    assert 100 < len(brightness) < 200 and all(-32 / 255 <= b <= 32 / 255 for b in brightness)
    assert all(abs(h - round(h)) < 1e-9 and -18 <= round(h) < 18 for h in hues)  # OpenCV units: ±36°
    assert all(0.5 <= c <= 1.5 for c in contrasts)
    assert {d["contrast_first"] for d in draws} == {True, False}


@pytest.mark.parametrize("factor", [0.5, 1.3, 3.0])
def test_scale_saturation_matches_hsv_saturation_scaled_and_clipped(factor):
    pixels = torch.rand(3, 1, 50, generator=torch.Generator().manual_seed(0))
    pixels[:, 0, 0] = 0.4  # grey: no saturation to scale
    out = scale_saturation(pixels, factor)
    for i in range(pixels.shape[-1]):
        h, s, v = colorsys.rgb_to_hsv(*pixels[:, 0, i].tolist())
        expected = colorsys.hsv_to_rgb(h, min(s * factor, 1.0), v)
        assert out[:, 0, i].tolist() == pytest.approx(expected, abs=1e-5)


# --- pipelines ------------------------------------------------------------------------------------------------------

def face_pair(size):
    """A hand-made face-like pair: skin disc with two eyes, hair band, background."""
    mask = torch.zeros(size, size, dtype=torch.int64)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    mask[(yy - size // 2) ** 2 + (xx - size // 2) ** 2 < (size // 3) ** 2] = 1
    mask[: size // 5] = 13
    mask[size // 2 - 3: size // 2 + 3, size // 3: size // 3 + 6] = L_EYE
    mask[size // 2 - 3: size // 2 + 3, 2 * size // 3 - 6: 2 * size // 3] = R_EYE
    return torch.rand(3, size, size, generator=torch.Generator().manual_seed(size)), mask


def test_same_torch_seed_gives_identical_output_whatever_python_and_numpy_rngs_hold():
    image, mask = face_pair(64)
    transform = train_transform(crop_size=48)
    outputs = []
    for other_seed in (1, 2):
        random.seed(other_seed)
        np.random.seed(other_seed)
        torch.manual_seed(7)
        outputs.append(transform(image, mask))
    assert torch.equal(outputs[0][0], outputs[1][0]) and torch.equal(outputs[0][1], outputs[1][1])
    torch.manual_seed(8)
    other = transform(image, mask)
    assert not torch.equal(other[0], outputs[0][0])


@pytest.mark.parametrize("size", [40, 64, 128])
def test_train_transform_returns_normalised_crop_size_image_and_int64_mask(size):
    image, mask = face_pair(size)
    transform = train_transform(crop_size=64)
    for seed in range(4):
        torch.manual_seed(seed)
        out_image, out_mask = transform(image, mask)
        assert out_image.shape == (3, 64, 64) and out_image.dtype == torch.float32
        assert out_mask.shape == (64, 64) and out_mask.dtype == torch.int64
        assert set(out_mask.unique().tolist()) <= set(mask.unique().tolist()) | {IGNORE_INDEX, L_EYE, R_EYE}
        assert out_image.min() < -1.0  # normalised: black (or near) pixels sit well below 0


def test_light_preset_pipeline_works_at_128_on_128_images():
    image, mask = face_pair(128)
    transform = train_transform(crop_size=128, ratio_range=(0.75, 1.25), photometric=False)
    for seed in range(4):
        torch.manual_seed(seed)
        out_image, out_mask = transform(image, mask)
        assert out_image.shape == (3, 128, 128) and out_mask.shape == (128, 128)


def test_eval_transform_only_normalises():
    image, mask = face_pair(32)
    out_image, out_mask = eval_transform()(image, mask)
    assert torch.allclose(out_image, normalize(image), atol=1e-6)
    assert torch.equal(out_mask, mask) and type(out_image) is torch.Tensor and type(out_mask) is torch.Tensor


def test_dataset_yields_augmented_batches_through_its_transform_argument(tmp_path):
    root = make_synthetic_dataset(tmp_path, n_train=2, n_val=0, size=64, workers=1)
    dataset = FaceParsingDataset(root, "train", transform=train_transform(crop_size=48))
    torch.manual_seed(0)
    images, masks = torch.utils.data.default_collate([dataset[0], dataset[1]])
    assert images.shape == (2, 3, 48, 48) and masks.shape == (2, 48, 48) and masks.dtype == torch.int64
