import numpy as np
import pytest
from PIL import Image

from faceparse_lib.classes import CLASSES, FLIP_PAIRS, NUM_CLASSES
from faceparse_lib.data.dataset import FaceParsingDataset
from faceparse_lib.data.check import check_dataset
from faceparse_lib.data.layout import read_mask
from faceparse_lib.data.synthetic import make_synthetic_dataset, synthetic_face
from faceparse_lib.data.stats import reference_counts

ALWAYS = ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear", "mouth", "u_lip", "l_lip",
          "hair", "neck", "cloth")
SOMETIMES = ("eye_g", "hat", "ear_r", "neck_l")


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """60 training masks at 256 px: enough faces for the optional parts and the class shares."""
    root = make_synthetic_dataset(tmp_path_factory.mktemp("syn"), n_train=60, n_val=4, size=256, seed=3)
    return root, [read_mask(p) for p in sorted((root / "train" / "masks").glob("*.png"))]


def test_writes_the_course_layout_with_jpeg_images_and_8_bit_png_masks(tmp_path):
    root = make_synthetic_dataset(tmp_path, n_train=3, n_val=2, size=64, seed=0, n_test=2)
    assert sorted(p.name for p in (root / "train" / "images").iterdir()) == ["00000.jpg", "00001.jpg", "00002.jpg"]
    assert sorted(p.name for p in (root / "val" / "masks").iterdir()) == ["00003.png", "00004.png"]
    assert len(list((root / "test" / "images").iterdir())) == 2 and not (root / "test" / "masks").exists()
    with Image.open(root / "train" / "images" / "00000.jpg") as image:
        assert image.format == "JPEG" and image.mode == "RGB" and image.size == (64, 64)
    with Image.open(root / "val" / "masks" / "00003.png") as mask:
        assert mask.format == "PNG" and mask.mode == "L" and mask.size == (64, 64)
    assert check_dataset(root).ok
    assert len(FaceParsingDataset(root, "val")) == 2


def test_same_seed_gives_the_same_set_and_another_seed_another(tmp_path):
    a = make_synthetic_dataset(tmp_path / "a", 4, 1, size=64, seed=7, workers=1)
    b = make_synthetic_dataset(tmp_path / "b", 4, 1, size=64, seed=7, workers=2)
    c = make_synthetic_dataset(tmp_path / "c", 4, 1, size=64, seed=8)
    for rel in ("train/images/00002.jpg", "train/masks/00002.png", "val/masks/00004.png"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    assert (a / "train/masks/00002.png").read_bytes() != (c / "train/masks/00002.png").read_bytes()


def test_every_face_has_the_core_parts(faces):
    _, masks = faces
    small = [np.asarray(synthetic_face((9, i), size=128)[1]) for i in range(60)]  # the smallest size promised
    for index, mask in enumerate(masks + small):
        present = set(np.unique(mask).tolist())
        missing = [name for name in ALWAYS if CLASSES.index(name) not in present]
        assert not missing, f"face {index} lacks {missing}"


def test_glasses_hats_earrings_and_necklaces_appear_in_some_faces_only(faces):
    _, masks = faces
    for name in SOMETIMES:
        share = np.mean([(mask == CLASSES.index(name)).any() for mask in masks])
        assert 0 < share < 0.6, f"{name} in {share:.0%} of faces"


def test_right_parts_lie_on_the_images_left_as_in_celebamask_hq(faces):
    _, masks = faces  # the subject's left and right: r_eye, r_brow, r_ear on the image's left
    columns = np.arange(masks[0].shape[1])
    for mask in masks:
        for left, right in FLIP_PAIRS:
            x_left = (columns * (mask == left)).sum() / (mask == left).sum()
            x_right = (columns * (mask == right)).sum() / (mask == right).sum()
            assert x_right < x_left, f"{CLASSES[right]} at x={x_right:.0f}, {CLASSES[left]} at x={x_left:.0f}"


def test_class_shares_are_within_3x_of_the_report_training_set(faces):
    _, masks = faces
    pixels = sum(np.bincount(m.ravel(), minlength=256)[:NUM_CLASSES] for m in masks)
    share = pixels / pixels.sum()
    ref = reference_counts()["pixels"].to_numpy(dtype=float)
    ratio = share / (ref / ref.sum())
    off = {CLASSES[c]: round(float(r), 2) for c, r in enumerate(ratio) if not 1 / 3 < r < 3}
    assert not off, f"class share / report share out of range: {off}"
    assert np.argmin(share) == CLASSES.index("neck_l")
    assert set(np.argsort(share)[-3:]) == {CLASSES.index(n) for n in ("background", "skin", "hair")}


def test_faces_vary_in_size_and_position(faces):
    _, masks = faces
    skin = [(m == CLASSES.index("skin")) for m in masks]
    areas = np.array([s.sum() for s in skin])
    centres = np.array([np.argwhere(s).mean(axis=0) for s in skin])
    assert areas.max() / areas.min() > 1.3
    assert np.ptp(centres, axis=0).min() > 0.05 * masks[0].shape[0]


def test_pixels_are_noisy_so_colour_alone_is_not_a_perfect_cue():
    image, mask = synthetic_face(seed=11, size=256)
    pixels, labels = np.asarray(image, dtype=float), np.asarray(mask)
    skin = pixels[labels == CLASSES.index("skin")]
    assert skin.std(axis=0).min() > 3, "skin is one flat colour"
    # A nearest-class-mean colour classifier must make mistakes.
    classes = np.unique(labels)
    means = np.stack([pixels[labels == c].mean(axis=0) for c in classes])
    nearest = classes[np.argmin(((pixels[..., None, :] - means) ** 2).sum(-1), axis=-1)]
    assert (nearest != labels).mean() > 0.05


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="non-negative"):
        make_synthetic_dataset(tmp_path, -1, 2)
