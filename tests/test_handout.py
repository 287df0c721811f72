"""The challenge hand-out: its zips found by content, unpacked once to local disk, arriving one at a time."""

from __future__ import annotations

import re
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from faceparse_lib.classes import PALETTE
from faceparse_lib.data.handout import find_handout_zips, get_handout
from faceparse_lib.data.layout import DatasetError, list_pairs
from faceparse_lib.data.synthetic import make_synthetic_handout


@pytest.fixture
def handout(tmp_path):
    return make_synthetic_handout(tmp_path / "made", 8, 3, 2, size=64, swapped=1, workers=0)


def test_the_synthetic_handout_has_the_challenges_shape(handout):
    assert sorted(handout) == ["test", "train", "val"]
    names = {split: zipfile.ZipFile(path).namelist() for split, path in handout.items()}
    assert all(n.startswith("train/") for n in names["train"])
    assert not any("/masks/" in n for n in names["val"] + names["test"])  # val and test come without masks
    stems = {n.rsplit("/", 1)[1].split(".")[0] for n in sum(names.values(), []) if not n.endswith("/")}
    assert len(stems) == 13 and all(re.fullmatch(r"[0-9a-f]{32}", s) for s in stems)
    with zipfile.ZipFile(handout["train"]) as archive:
        mask_name = next(n for n in archive.namelist() if n.endswith(".png"))
        with archive.open(mask_name) as handle:
            mask = Image.open(handle)
            mask.load()
    assert mask.mode == "P" and np.array_equal(np.array(mask.getpalette()[:57]).reshape(19, 3), PALETTE)


def test_zips_are_found_by_what_they_hold_under_any_name_and_depth(tmp_path, handout):
    drive = tmp_path / "MyDrive" / "AI6126" / "project"
    drive.mkdir(parents=True)
    shutil.copy(handout["train"], drive / "train (1).zip")
    shutil.copy(handout["val"], drive.parent / "dev-images.zip")
    (drive / "notes.zip").write_bytes(b"not a zip")
    found = find_handout_zips([tmp_path / "MyDrive"])
    assert found == {"train": drive / "train (1).zip", "val": drive.parent / "dev-images.zip"}


def test_the_handout_is_unpacked_once_and_works_as_each_zip_arrives(tmp_path, handout):
    drive = tmp_path / "drive"
    drive.mkdir()
    shutil.copy(handout["train"], drive)
    local = tmp_path / "local"
    first = get_handout([drive], local)
    assert first.images == {"train": 8} and "val: not yet" in first.summary() and "test: not yet" in first.summary()
    some_image = list_pairs(first.root, "train")[0][0]
    stamp = some_image.stat().st_mtime_ns
    shutil.copy(handout["val"], drive)
    second = get_handout([drive], local)
    assert second.images == {"train": 8, "val": 3} and second.masks["val"] == 0
    assert some_image.stat().st_mtime_ns == stamp  # train was not unpacked again
    shutil.copy(handout["test"], drive)
    third = get_handout([drive], local)
    assert third.images == {"train": 8, "val": 3, "test": 2}
    assert "train: 8 images + 8 masks from train.zip" in third.summary()


def test_a_changed_zip_is_unpacked_again_from_scratch(tmp_path, handout):
    drive = tmp_path / "drive"
    drive.mkdir()
    shutil.copy(handout["train"], drive)
    root = get_handout([drive], tmp_path / "local").root
    (root / "train" / "images" / "stray.jpg").write_bytes(b"left over")
    smaller = make_synthetic_handout(tmp_path / "reissue", 5, 0, 0, size=64, seed=3, swapped=0, workers=0)
    shutil.copy(smaller["train"], drive / "train.zip")
    again = get_handout([drive], tmp_path / "local")
    assert again.images["train"] == 5 and not (root / "train" / "images" / "stray.jpg").exists()


def test_an_enclosing_folder_and_macos_extras_are_unpacked_to_the_course_layout(tmp_path, handout):
    wrapped = tmp_path / "drive" / "everything.zip"
    wrapped.parent.mkdir()
    with zipfile.ZipFile(wrapped, "w") as out:
        for path in handout.values():
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    out.writestr(f"handout/{name}", archive.read(name))
                    if not name.endswith("/"):
                        out.writestr(f"__MACOSX/handout/{name.rsplit('/', 1)[0]}/._{name.rsplit('/', 1)[1]}", b"fork")
    got = get_handout([tmp_path / "drive"], tmp_path / "local")
    assert got.images == {"train": 8, "val": 3, "test": 2} and got.masks["train"] == 8
    assert not list((tmp_path / "local").rglob("._*"))


def test_two_zips_holding_train_or_none_at_all_are_refused_by_name(tmp_path, handout):
    drive = tmp_path / "drive"
    (drive / "old").mkdir(parents=True)
    shutil.copy(handout["train"], drive)
    shutil.copy(handout["train"], drive / "old" / "train.zip")
    with pytest.raises(DatasetError, match="2 zips hold train/"):
        get_handout([drive], tmp_path / "local")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=f"{empty}: no hand-out found"):
        get_handout([empty], tmp_path / "local")
    only_val = tmp_path / "only_val"
    only_val.mkdir()
    shutil.copy(handout["val"], only_val)
    with pytest.raises(DatasetError, match="no train/"):
        get_handout([only_val], tmp_path / "local")


def test_a_truncated_zip_says_so(tmp_path, handout):
    drive = tmp_path / "drive"
    drive.mkdir()
    data = handout["train"].read_bytes()
    (drive / "train.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"no hand-out found.*not a readable zip \(an interrupted upload\?\): .*train.zip"):
        get_handout([drive], tmp_path / "local")
    shutil.copy(handout["val"], drive / "val.zip")
    shutil.move(drive / "train.zip", drive / "broken-train.zip")
    shutil.copy(handout["train"], drive / "train.zip")
    assert "skipped, not a readable zip" in get_handout([drive], tmp_path / "local").summary()


def test_a_course_layout_folder_is_used_where_it_is(tmp_path, handout):
    root = get_handout([tmp_path / "made"], tmp_path / "local").root
    assert get_handout([root], tmp_path / "elsewhere").root == root
    assert not (tmp_path / "elsewhere").exists()


def test_zips_added_or_changed_later_win_over_the_folder_they_were_unpacked_into(tmp_path, handout):
    data = tmp_path / "data"  # off Colab: the zips in data/, unpacked into data/handout, both searched
    data.mkdir()
    shutil.copy(handout["train"], data)
    places, dest = [data, data / "handout"], data / "handout"
    assert get_handout(places, dest).images == {"train": 8}
    shutil.copy(handout["val"], data)
    shutil.copy(handout["test"], data)
    assert get_handout(places, dest).images == {"train": 8, "val": 3, "test": 2}
    (data / "test.zip").unlink()  # a split no zip holds any more is not left behind
    assert get_handout(places, dest).images == {"train": 8, "val": 3} and not (dest / "test").exists()


def test_a_zip_named_in_data_brings_its_siblings(tmp_path, handout):
    got = get_handout([handout["train"]], tmp_path / "local")
    assert got.images == {"train": 8, "val": 3, "test": 2}


def test_backslash_names_are_unpacked_and_names_leaving_the_folder_are_not(tmp_path, handout):
    odd = tmp_path / "drive" / "train.zip"
    odd.parent.mkdir()
    with zipfile.ZipFile(handout["train"]) as archive, zipfile.ZipFile(odd, "w") as out:
        for name in archive.namelist():
            out.writestr(name.replace("/", "\\"), archive.read(name))
        out.writestr("train/images/../../../escaped.jpg", b"outside")
    got = get_handout([tmp_path / "drive"], tmp_path / "local" / "handout")
    assert got.images == {"train": 8} and got.masks == {"train": 8}
    assert not list(tmp_path.rglob("escaped.jpg"))
