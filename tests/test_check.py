"""check_dataset: counts, sizes and label shares of a good set; every problem of a bad one, not just the first."""

import numpy as np
import pytest
from PIL import Image

from course_files import SIZE, write_good_set, write_sample
from faceparse_lib.data.check import check_dataset


@pytest.fixture
def good_root(tmp_path):
    return write_good_set(tmp_path)


def test_check_dataset_counts_sizes_and_labels_of_a_good_set(good_root):
    report = check_dataset(good_root)
    assert report.ok, report.problems
    train = report.splits[0]
    assert (train.split, train.images, train.masks) == ("train", 4, 4)
    assert train.sizes == {(SIZE, SIZE): 4}
    assert train.label_pixels[[1, 2, 3, 4]].tolist() == [SIZE * SIZE // 2] * 4
    assert train.label_pixels[0] == 4 * SIZE * SIZE // 2
    assert "0 problem(s)" in report.format()


def test_check_dataset_reports_every_problem_not_just_the_first(good_root):
    Image.fromarray(np.full((SIZE, SIZE), 40, dtype=np.uint8), "L").save(good_root / "train" / "masks" / "00000.png")
    (good_root / "train" / "masks" / "00001.png").unlink()
    (good_root / "train" / "images" / "00002.jpg").write_bytes(b"broken")
    write_sample(good_root, "val", "00011", mask_size=(8, 8))
    report = check_dataset(good_root)
    text = "\n".join(report.problems)
    assert not report.ok and len(report.problems) == 4
    assert "00000.png: label 40 outside" in text
    assert "00001.jpg: no mask" in text
    assert "00002.jpg: unreadable" in text
    assert "00011.jpg: image is 16×16 but its mask 00011.png is 8×8" in text


def test_check_dataset_on_a_missing_or_empty_root(tmp_path):
    assert "folder not found" in check_dataset(tmp_path / "nowhere").problems[0]
    assert "no train/, val/ or test/" in check_dataset(tmp_path).problems[0]


def test_check_dataset_accepts_a_test_split_without_masks(tmp_path):
    (tmp_path / "test" / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "test" / "images" / "00001.jpg")
    report = check_dataset(tmp_path)
    assert report.ok and report.splits[0].images == 1 and report.splits[0].masks == 0


def test_check_dataset_checks_test_masks_when_the_split_has_them(tmp_path):
    write_sample(tmp_path, "test", "00001", label=3)
    write_sample(tmp_path, "test", "00002")
    (tmp_path / "test" / "images" / "00002.jpg").unlink()
    report = check_dataset(tmp_path)
    assert report.splits[0].masks == 2 and report.splits[0].label_pixels[3] == SIZE * SIZE // 2
    assert report.problems == [f"{tmp_path}/test/masks/00002.png: mask has no image in {tmp_path}/test/images"]


def test_val_without_masks_is_fine_under_the_challenge_rules_only(tmp_path):
    write_good_set(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "val" / "masks")
    assert not check_dataset(tmp_path).ok
    report = check_dataset(tmp_path, rules="challenge")
    assert report.ok and any("without masks" in note for note in report.notes)
    assert "without masks" in report.format()


def test_masks_with_left_and_right_swapped_are_flagged_by_file(tmp_path):
    from faceparse_lib.data.synthetic import make_synthetic_dataset
    from faceparse_lib.data.transforms import swap_left_right
    import torch

    root = make_synthetic_dataset(tmp_path / "set", 6, 2, size=64, seed=1)
    victim = sorted((root / "train" / "masks").glob("*.png"))[2]
    mask = np.array(Image.open(victim))
    Image.fromarray(swap_left_right(torch.from_numpy(mask)).numpy()).save(victim)  # labels swapped, pixels kept
    report = check_dataset(root)
    assert list(report.swapped) == [victim] and len(report.swapped[victim]) == 3
    assert victim.name in report.format()


def test_a_mask_with_only_its_ears_swapped_is_found_and_named_by_pair(tmp_path):
    from faceparse_lib.classes import FLIP_PAIRS
    from faceparse_lib.data.relabel import swap_pairs
    from faceparse_lib.data.synthetic import make_synthetic_dataset

    root = make_synthetic_dataset(tmp_path / "set", 6, 2, size=64, seed=1)
    victim = sorted((root / "train" / "masks").glob("*.png"))[4]
    ears = FLIP_PAIRS[-1]
    Image.fromarray(swap_pairs(np.array(Image.open(victim)), [ears])).save(victim)
    report = check_dataset(root)
    assert report.swapped == {victim: [ears]}  # eyes and brows still vote the other way: a per-mask vote missed it
    assert f"{victim} (ears)" in report.format()


def test_the_synthetic_handouts_swapped_masks_are_listed_and_relabelling_fixes_only_them(tmp_path):
    from faceparse_lib.data.handout import get_handout
    from faceparse_lib.data.relabel import relabel_swapped
    from faceparse_lib.data.synthetic import make_synthetic_handout

    make_synthetic_handout(tmp_path / "drive", 12, 2, 0, size=64, swapped=3, workers=0)
    root = get_handout([tmp_path / "drive"], tmp_path / "local").root
    report = check_dataset(root, rules="challenge")
    assert report.ok and len(report.swapped) == 3
    assert sorted(len(pairs) for pairs in report.swapped.values()) == [1, 3, 3]  # one has its ears alone swapped
    before = {p: p.read_bytes() for p in (root / "train" / "masks").glob("*.png")}
    fixed = relabel_swapped(root, report.swapped, tmp_path / "fixed")
    assert check_dataset(fixed, rules="challenge").swapped == {}
    assert {p: p.read_bytes() for p in (root / "train" / "masks").glob("*.png")} == before  # the hand-out untouched
    changed = [p.name for p in (fixed / "train" / "masks").glob("*.png")
               if p.read_bytes() != (root / "train" / "masks" / p.name).read_bytes()]
    assert sorted(changed) == sorted(p.name for p in report.swapped)
    assert Image.open(fixed / "train" / "masks" / changed[0]).mode == "P"
    assert sorted(p.name for p in (fixed / "val" / "images").iterdir()) == sorted(
        p.name for p in (root / "val" / "images").iterdir())
    stamp = (fixed / ".relabelled.json").stat().st_mtime_ns
    assert relabel_swapped(root, report.swapped, tmp_path / "fixed") == fixed
    assert (fixed / ".relabelled.json").stat().st_mtime_ns == stamp  # made once
