import numpy as np
import pytest

from faceparse_lib.classes import (
    CLASS_TITLES,
    CLASSES,
    FLIP_PAIRS,
    IGNORE_COLOR,
    IGNORE_INDEX,
    NUM_CLASSES,
    PALETTE,
    class_names,
    colorize,
    flip_permutation,
)


def test_class_order_is_the_official_one():
    assert CLASSES == (
        "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
        "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
    )
    assert NUM_CLASSES == 19 and IGNORE_INDEX == 255 and len(CLASS_TITLES) == NUM_CLASSES


def test_flip_pairs_join_each_left_class_to_its_right_twin():
    assert FLIP_PAIRS == ((4, 5), (6, 7), (8, 9))
    for left, right in FLIP_PAIRS:
        assert CLASSES[left].startswith("l_") and CLASSES[right] == "r_" + CLASSES[left][2:]


def test_palette_colours_are_distinct_and_none_is_the_ignore_colour():
    assert PALETTE.shape == (NUM_CLASSES, 3) and PALETTE.dtype == np.uint8
    colours = {tuple(c) for c in PALETTE}
    assert len(colours) == NUM_CLASSES
    assert tuple(IGNORE_COLOR) not in colours
    assert tuple(PALETTE[0]) == (0, 0, 0)


def test_colorize_paints_each_label_with_its_palette_colour_and_ignore_white():
    mask = np.array([[0, 1, 18], [4, 5, IGNORE_INDEX]], dtype=np.uint8)
    out = colorize(mask)
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    assert (out[0, 1] == PALETTE[1]).all() and (out[0, 2] == PALETTE[18]).all()
    assert (out[1, 0] == PALETTE[4]).all() and (out[1, 1] == PALETTE[5]).all()
    assert (out[1, 2] == IGNORE_COLOR).all()


def test_colorize_accepts_int64_masks_and_refuses_other_shapes():
    assert colorize(np.full((3, 3), 13, dtype=np.int64))[1, 1].tolist() == PALETTE[13].tolist()
    with pytest.raises(ValueError, match="H×W"):
        colorize(np.zeros((2, 2, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="0..18"):
        colorize(np.array([[300]]))


def test_flip_permutation_swaps_pairs_and_keeps_everything_else():
    table = flip_permutation()
    for left, right in FLIP_PAIRS:
        assert table[left] == right and table[right] == left
    swapped = {c for pair in FLIP_PAIRS for c in pair}
    assert all(table[c] == c for c in range(256) if c not in swapped)


def test_colorize_refuses_labels_between_the_classes_and_ignore():
    with pytest.raises(ValueError, match="found 19, 254"):
        colorize(np.array([[0, 19], [254, IGNORE_INDEX]], dtype=np.uint8))
    with pytest.raises(ValueError, match="found -1"):
        colorize(np.array([[-1, 3]]))


def test_class_names_are_the_classes_for_19_and_numbers_otherwise():
    assert class_names() == CLASSES and class_names(NUM_CLASSES) == CLASSES
    assert class_names(3) == ("0", "1", "2")
