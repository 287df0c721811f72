"""The torch-free file layer: layout paths, readers with errors naming the file, pairing and its message."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from course_files import SIZE, write_sample
from faceparse_lib.data.layout import (
    DatasetError,
    first_problem,
    images_dir,
    list_pairs,
    masks_dir,
    read_image,
    read_mask,
    read_pair,
)

# The modules that only touch files: preparing the download, checking a set, counting pixels.
FILE_LAYER = (
    "faceparse_lib.data.layout", "faceparse_lib.data.check", "faceparse_lib.data.celebamask", "faceparse_lib.data.prepare",
    "faceparse_lib.data.download", "faceparse_lib.data.stats", "faceparse_lib.data.parallel", "faceparse_lib.classes",
    "faceparse_lib.data", "faceparse_lib.training.config",  # the package names its API lazily; a config is torch-free
)


def test_file_layer_imports_without_torch():
    code = f"import sys; import {', '.join(FILE_LAYER)}; print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_split_folders_are_root_split_images_and_masks(tmp_path):
    assert images_dir(tmp_path, "val") == tmp_path / "val" / "images"
    assert masks_dir(str(tmp_path), "test") == tmp_path / "test" / "masks"


def test_first_problem_says_how_many_more_there_are():
    assert first_problem(["a: bad"]) == "a: bad"
    assert first_problem(["a: bad", "b: bad", "c: bad"]) == "a: bad (and 2 more)"
    assert first_problem(["a", "b"], note="; the rest went on") == "a (and 1 more; the rest went on)"


def test_list_pairs_pairs_by_stem_in_name_order(tmp_path):
    for stem in ("00002", "00000", "00001"):
        write_sample(tmp_path, "train", stem)
    pairs = list_pairs(tmp_path, "train")
    assert [(i.name, m.name) for i, m in pairs] == [(f"0000{k}.jpg", f"0000{k}.png") for k in range(3)]


def test_list_pairs_names_the_first_unpaired_file_and_counts_the_rest(tmp_path):
    for stem in ("00000", "00001", "00002"):
        write_sample(tmp_path, "train", stem)
    (tmp_path / "train" / "masks" / "00000.png").unlink()
    (tmp_path / "train" / "masks" / "00001.png").unlink()
    with pytest.raises(DatasetError, match=r"00000\.jpg: no mask 00000\.png in .*masks \(and 1 more\)$"):
        list_pairs(tmp_path, "train")


def test_read_pair_returns_uint8_arrays_and_refuses_different_sizes(tmp_path):
    write_sample(tmp_path, "train", "00000", label=7)
    write_sample(tmp_path, "train", "00001", mask_size=(SIZE, SIZE // 2))
    (image, mask), (bad_image, bad_mask) = list_pairs(tmp_path, "train")
    picture, labels = read_pair(image, mask)
    assert picture.shape == (SIZE, SIZE, 3) and picture.dtype == np.uint8
    assert labels.dtype == np.uint8 and set(np.unique(labels)) == {0, 7}
    with pytest.raises(DatasetError, match=r"00001\.jpg: image is 16×16 but its mask 00001\.png is 16×8"):
        read_pair(bad_image, bad_mask)


def test_palette_png_mask_reads_as_class_indices(tmp_path):
    path = tmp_path / "p.png"
    indices = np.array([[0, 5], [17, 255]], dtype=np.uint8)
    mask = Image.fromarray(indices, "L").convert("P")
    mask.putpalette([v for i in range(256) for v in (i, 255 - i, 0)])
    mask.save(path)
    assert Image.open(path).mode == "P"
    assert (read_mask(path) == indices).all()


def test_ignore_label_255_is_accepted(tmp_path):
    Image.fromarray(np.array([[255, 18]], dtype=np.uint8), "L").save(tmp_path / "m.png")
    assert read_mask(tmp_path / "m.png").tolist() == [[255, 18]]


def test_mask_label_outside_range_is_refused_naming_file_and_label(tmp_path):
    Image.fromarray(np.array([[0, 23, 200]], dtype=np.uint8), "L").save(tmp_path / "00012.png")
    with pytest.raises(DatasetError, match=r"00012\.png: labels 23, 200 outside 0\.\.18 and 255"):
        read_mask(tmp_path / "00012.png")


def test_rgb_colour_mask_is_refused(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8), "RGB").save(tmp_path / "c.png")
    with pytest.raises(DatasetError, match=r"c\.png: a colour mask"):
        read_mask(tmp_path / "c.png")


def test_16_bit_mask_is_refused(tmp_path):
    Image.fromarray(np.ones((4, 4), dtype=np.uint16) * 3).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    with pytest.raises(DatasetError, match=r"deep\.png: a I.*16/32-bit"):
        read_mask(tmp_path / "deep.png")


def test_truncated_and_unreadable_files_are_refused(tmp_path):
    Image.fromarray(np.zeros((64, 64), dtype=np.uint8), "L").save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.jpg").write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match=r"cut\.png: unreadable or truncated"):
        read_mask(tmp_path / "cut.png")
    with pytest.raises(DatasetError, match=r"junk\.jpg: unreadable or truncated"):
        read_image(tmp_path / "junk.jpg")
    with pytest.raises(DatasetError, match=r"absent\.png: file not found"):
        read_mask(tmp_path / "absent.png")



def test_invalid_labels_allows_the_ignore_label_only_in_true_masks():
    from faceparse_lib.data.layout import invalid_labels

    mask = np.array([[0, 18, 255, 19]], np.uint8)
    assert invalid_labels(mask).tolist() == [19]
    assert invalid_labels(mask, ignore_index=None).tolist() == [19, 255]
    assert invalid_labels(np.array([-1, 3])).tolist() == [-1]


def test_an_exif_turned_image_with_a_mask_is_refused_by_name_and_alone_is_read_upright(tmp_path):
    from faceparse_lib.data.check import check_dataset

    root = tmp_path / "set"
    write_sample(root, "train", "a")
    image_path = next((root / "train" / "images").iterdir())
    stored = Image.open(image_path).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 3  # stored upside down
    stored.save(image_path, exif=exif)
    with pytest.raises(DatasetError, match=f"{image_path.name}: EXIF orientation 3"):
        read_pair(image_path, next((root / "train" / "masks").iterdir()))
    raw = np.asarray(Image.open(image_path).convert("RGB"))  # the stored pixels, tag ignored
    assert np.array_equal(read_image(image_path), raw[::-1, ::-1])  # a photo alone: turned upright
    assert any("EXIF orientation 3" in p for p in check_dataset(root).problems)
