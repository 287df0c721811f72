"""Finding and framing examples of a class."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from faceparse_lib.visual.closeups import class_closeups, crop_around, images_with_class


def _write_pairs(tmp_path, masks):
    pairs = []
    for i, mask in enumerate(masks):
        image, mask_path = tmp_path / f"{i}.jpg", tmp_path / f"{i}.png"
        Image.fromarray(np.zeros((*mask.shape, 3), np.uint8)).save(image)
        Image.fromarray(mask).save(mask_path)
        pairs.append((image, mask_path))
    return pairs


def test_images_with_class_returns_only_masks_holding_it_up_to_the_limit(tmp_path):
    masks = [np.zeros((32, 32), np.uint8) for _ in range(5)]
    for i in (1, 3, 4):
        masks[i][5, 5] = 16
    pairs = _write_pairs(tmp_path, masks)
    assert images_with_class(pairs, 16, limit=2) == [pairs[1], pairs[3]]


def test_crop_around_is_a_square_holding_every_pixel_of_the_class():
    mask = np.zeros((100, 80), np.uint8)
    mask[60:70, 10:14] = 15
    image = np.dstack([mask] * 3)
    crop_image, crop_mask = crop_around(image, mask, 15, min_side=8)
    assert crop_mask.shape[0] == crop_mask.shape[1] and crop_image.shape[:2] == crop_mask.shape
    assert (crop_mask == 15).sum() == (mask == 15).sum()
    assert crop_mask.shape[0] < 40


def test_crop_around_an_absent_class_says_so():
    with pytest.raises(ValueError, match="does not occur"):
        crop_around(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8), 3)


def test_class_closeups_crop_each_found_image(tmp_path):
    mask = np.zeros((64, 64), np.uint8)
    mask[40:44, 40:44] = 16
    closeups = class_closeups(_write_pairs(tmp_path, [mask, np.zeros((64, 64), np.uint8)]), 16)
    assert len(closeups) == 1 and (closeups[0][1] == 16).sum() == 16
