import numpy as np
import pytest
import torch
from PIL import Image

from faceparse_lib.data import DatasetError, FaceParsingDataset, check_dataset, read_image, read_mask

SIZE = 16


def write_sample(root, split, stem, label=1, size=(SIZE, SIZE), mask_size=None, image_mode="RGB"):
    """One image + mask pair in the course layout; the mask holds `label` on its left half."""
    (root / split / "images").mkdir(parents=True, exist_ok=True)
    (root / split / "masks").mkdir(parents=True, exist_ok=True)
    w, h = size
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).convert(image_mode)
    image.save(root / split / "images" / f"{stem}.{'jpg' if image_mode in ('RGB', 'L') else 'png'}")
    mw, mh = mask_size or size
    mask = np.zeros((mh, mw), dtype=np.uint8)
    mask[:, : mw // 2] = label
    Image.fromarray(mask, "L").save(root / split / "masks" / f"{stem}.png")


@pytest.fixture
def good_root(tmp_path):
    for i in range(4):
        write_sample(tmp_path, "train", f"{i:05d}", label=i + 1)
    write_sample(tmp_path, "val", "00010", label=18)
    return tmp_path


def test_dataset_returns_float_chw_image_and_int64_mask(good_root):
    ds = FaceParsingDataset(good_root, "train")
    image, mask = ds[2]
    assert len(ds) == 4
    assert image.dtype == torch.float32 and image.shape == (3, SIZE, SIZE)
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert mask.dtype == torch.int64 and mask.shape == (SIZE, SIZE)
    assert set(mask.unique().tolist()) == {0, 3}


def test_dataset_applies_a_joint_transform(good_root):
    ds = FaceParsingDataset(good_root, "train", transform=lambda im, m: (im.flip(-1), m.flip(-1)))
    _, mask = ds[0]
    assert mask[0, 0] == 0 and mask[0, -1] == 1


def test_dataset_works_with_a_dataloader_with_workers(good_root):
    loader = torch.utils.data.DataLoader(FaceParsingDataset(good_root, "train"), batch_size=2, num_workers=2)
    batches = list(loader)
    assert len(batches) == 2
    assert batches[0][0].shape == (2, 3, SIZE, SIZE) and batches[1][1].shape == (2, SIZE, SIZE)


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


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_greyscale_and_rgba_images_become_rgb(tmp_path, mode):
    write_sample(tmp_path, "train", "00000", image_mode=mode)
    image, _ = FaceParsingDataset(tmp_path, "train")[0]
    assert image.shape == (3, SIZE, SIZE)


def test_image_and_mask_of_different_sizes_are_refused(tmp_path):
    write_sample(tmp_path, "train", "00007", mask_size=(SIZE, SIZE // 2))
    with pytest.raises(DatasetError, match=r"00007\.jpg: image is 16×16 but its mask 00007\.png is 16×8"):
        FaceParsingDataset(tmp_path, "train")[0]


def test_image_without_mask_and_mask_without_image_are_refused(good_root):
    (good_root / "train" / "masks" / "00001.png").unlink()
    with pytest.raises(DatasetError, match=r"00001\.jpg: no mask 00001\.png"):
        FaceParsingDataset(good_root, "train")
    (good_root / "val" / "images" / "00010.jpg").unlink()
    write_sample(good_root, "val", "00011")
    with pytest.raises(DatasetError, match=r"00010\.png: mask has no image"):
        FaceParsingDataset(good_root, "val")


def test_missing_and_empty_folders_are_refused(tmp_path):
    with pytest.raises(DatasetError, match=r"train/images: folder not found"):
        FaceParsingDataset(tmp_path, "train")
    (tmp_path / "train" / "images").mkdir(parents=True)
    (tmp_path / "train" / "masks").mkdir()
    with pytest.raises(DatasetError, match=r"train/images: no .* files; expected a non-empty folder"):
        FaceParsingDataset(tmp_path, "train")


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
