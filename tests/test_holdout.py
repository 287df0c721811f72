"""The holdout carved from train when val has no masks: deterministic, disjoint, stratified by the rare classes."""

import numpy as np
import pytest

from faceparse_lib.classes import CLASSES
from faceparse_lib.data.holdout import RARE_CLASSES, holdout_indices, holdout_split
from faceparse_lib.data.layout import list_pairs
from faceparse_lib.data.synthetic import make_synthetic_dataset


def test_every_rare_class_gets_its_share_and_at_least_one_image():
    rng = np.random.default_rng(1)
    present = rng.random((1000, 19)) < 0.5
    necklace, hat = CLASSES.index("neck_l"), CLASSES.index("hat")
    present[:, necklace] = False
    present[[3, 500, 997], necklace] = True  # three necklaces in 1,000 images
    present[:, hat] = np.arange(1000) < 60  # 6 % hats
    chosen = holdout_indices(present, 100, seed=0)
    assert len(chosen) == len(set(chosen)) == 100
    assert present[chosen, necklace].sum() >= 1 and present[chosen, hat].sum() >= 6
    assert holdout_indices(present, 100, seed=0) == chosen  # the same seed, the same holdout
    assert holdout_indices(present, 100, seed=1) != chosen
    assert set(RARE_CLASSES) == {CLASSES.index(n) for n in ("neck_l", "ear_r", "eye_g", "hat")}


def test_holdout_split_is_disjoint_by_image_and_covers_the_set(tmp_path):
    root = make_synthetic_dataset(tmp_path, 10, 1, size=64, seed=2)
    pairs = list_pairs(root, "train")
    train, held = holdout_split(pairs, 3, seed=0)
    assert len(held) == 3 and not {i for i, _ in train} & {i for i, _ in held}
    assert sorted(train + held) == sorted(pairs)
    with pytest.raises(ValueError, match="fewer than 10"):
        holdout_split(pairs, 10)


def test_the_holdout_never_takes_a_classs_last_training_images():
    rng = np.random.default_rng(2)
    present = rng.random((200, 19)) < 0.5
    present[:, 0] = True
    necklace, earring = CLASSES.index("neck_l"), CLASSES.index("ear_r")
    present[:, necklace] = False
    present[7, necklace] = True  # one necklace in the whole set: it must stay in training
    present[:, earring] = False
    present[[11, 12], earring] = True  # two earrings: one may be held out, one stays
    for seed in range(20):
        chosen = holdout_indices(present, 50, seed=seed)
        kept = np.setdiff1d(np.arange(200), chosen)
        assert 7 not in chosen and present[kept, earring].sum() >= 1
        assert (present[kept].sum(axis=0) >= np.minimum(present.sum(axis=0), 1)).all()  # every class still trained on
    assert present[holdout_indices(present, 50, seed=0), earring].sum() == 1  # and its share of the rare one
