"""FaceParsingDataset: tensors, transforms, workers, and the layout's errors surfacing when a split is opened."""

import pytest
import torch

from course_files import SIZE, write_good_set, write_sample
from faceparse_lib.data.layout import DatasetError
from faceparse_lib.data.dataset import FaceParsingDataset


@pytest.fixture
def good_root(tmp_path):
    return write_good_set(tmp_path)


def test_dataset_returns_float_chw_image_and_int64_mask(good_root):
    ds = FaceParsingDataset(good_root, "train")
    image, mask = ds[2]
    assert len(ds) == 4
    assert image.dtype == torch.float32 and image.shape == (3, SIZE, SIZE)
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert mask.dtype == torch.int64 and mask.shape == (SIZE, SIZE)
    assert set(mask.unique().tolist()) == {0, 3}


def test_dataset_applies_a_joint_transform(good_root):
    from faceparse_lib.data.transforms import hflip

    # Sample 3 holds l_eye (4) on its left half; the kit's flip mirrors it AND swaps it to r_eye (5).
    ds = FaceParsingDataset(good_root, "train", transform=hflip)
    _, mask = ds[3]
    assert mask[0, 0] == 0 and mask[0, -1] == 5


def test_dataset_works_with_a_dataloader_with_workers(good_root):
    loader = torch.utils.data.DataLoader(FaceParsingDataset(good_root, "train"), batch_size=2, num_workers=2)
    batches = list(loader)
    assert len(batches) == 2
    assert batches[0][0].shape == (2, 3, SIZE, SIZE) and batches[1][1].shape == (2, SIZE, SIZE)


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
