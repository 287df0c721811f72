"""prepare_celebamask: paint order, official split, file names, idempotent re-runs, errors, subsets, sizes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fake_celebamask import face_color, write_fake_download
from faceparse_lib.data.celebamask import PAINT_ORDER, official_split, part_path, read_mapping, split_of
from faceparse_lib.data.prepare import SETTINGS_FILE, prepare_celebamask, select_subset
from faceparse_lib.classes import CLASSES
from faceparse_lib.data.layout import DatasetError, read_image, read_mask
from faceparse_lib.data.check import check_dataset

TRAIN = {0: 5, 1: 10}  # CelebA-HQ id -> orig_idx, both in the official train split


def label(name: str) -> int:
    return CLASSES.index(name)


def files_with_stamps(root):
    """Every file under `root` with its inode and modification time, to see whether anything was rewritten."""
    return {p.relative_to(root): (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


# ---- paint order -------------------------------------------------------------------------------------------

def test_paint_order_is_the_class_order_without_background():
    assert PAINT_ORDER == CLASSES[1:]
    assert [PAINT_ORDER.index(p) + 1 for p in ("hair", "hat", "neck_l", "neck", "cloth")] == [13, 14, 16, 17, 18]


@pytest.fixture
def layered(tmp_path):
    """One face whose parts overlap in bands, prepared at the part-mask resolution."""
    parts = {
        "skin": (0, 512, 0, 512),
        "l_eye": (260, 280, 100, 150),
        "hair": (0, 256, 0, 512),      # over skin
        "hat": (0, 128, 0, 512),       # over hair
        "neck_l": (300, 400, 0, 512),  # necklace ...
        "neck": (350, 450, 0, 512),    # ... under the neck
        "cloth": (420, 512, 0, 512),   # painted last, over the neck
    }
    raw = write_fake_download(tmp_path / "raw", {7: 3}, {7: parts})
    prepare_celebamask(raw, tmp_path / "out", workers=0)
    return read_mask(tmp_path / "out" / "train" / "masks" / "00007.png")


def test_hair_paints_over_skin(layered):
    assert (layered[128:256, :] == label("hair")).all()
    assert (layered[256:260, :] == label("skin")).all()


def test_hat_paints_over_hair(layered):
    assert (layered[:128, :] == label("hat")).all()


def test_neck_paints_over_necklace(layered):
    assert (layered[300:350, :] == label("neck_l")).all()
    assert (layered[350:420, :] == label("neck")).all()


def test_cloth_is_painted_last(layered):
    assert (layered[420:, :] == label("cloth")).all()


def test_small_parts_survive_where_nothing_later_covers_them(layered):
    assert (layered[260:280, 100:150] == label("l_eye")).all()
    assert (layered[260:280, 150:] == label("skin")).all()


def test_colour_part_files_count_their_non_zero_pixels(tmp_path):
    hair = np.zeros((512, 512, 3), dtype=np.uint8)
    hair[:100] = 255
    raw = write_fake_download(tmp_path / "raw", {4: 1}, {4: {"skin": (0, 512, 0, 512), "hair": hair}})
    prepare_celebamask(raw, tmp_path / "out", workers=0)
    mask = read_mask(tmp_path / "out" / "train" / "masks" / "00004.png")
    assert (mask[:100] == label("hair")).all() and (mask[100:] == label("skin")).all()


# ---- official split ----------------------------------------------------------------------------------------

def test_split_of_boundaries():
    assert [split_of(i) for i in (0, 162769, 162770, 182636, 182637, 202598)] == [
        "train", "train", "val", "val", "test", "test"
    ]


def test_ids_straddling_split_boundaries_land_in_the_official_split(tmp_path):
    orig = {10: 162769, 11: 162770, 12: 182636, 13: 182637, 14: 0, 15: 202598}
    raw = write_fake_download(tmp_path / "raw", orig)
    summary = prepare_celebamask(raw, tmp_path / "out", workers=0)
    placed = {s: sorted(p.stem for p in (tmp_path / "out" / s / "images").iterdir()) for s in ("train", "val", "test")}
    assert placed == {"train": ["00010", "00014"], "val": ["00011", "00012"], "test": ["00013", "00015"]}
    assert summary.found == summary.selected == {"train": 2, "val": 2, "test": 2}


def test_read_mapping_and_official_split(tmp_path):
    raw = write_fake_download(tmp_path / "raw", {2: 182637, 0: 119613, 1: 162770})
    mapping = read_mapping(raw / "CelebA-HQ-to-CelebA-mapping.txt")
    assert mapping == {0: 119613, 1: 162770, 2: 182637}
    assert official_split(mapping) == {"train": [0], "val": [1], "test": [2]}


def test_read_mapping_names_the_file_and_line_of_a_bad_row(tmp_path):
    path = tmp_path / "mapping.txt"
    path.write_text("idx orig_idx orig_file\n0 119613 119614.jpg\n1 oops 1.jpg\n")
    with pytest.raises(DatasetError, match=r"mapping\.txt: line 3"):
        read_mapping(path)
    path.write_text("0 119613 119614.jpg\n")
    with pytest.raises(DatasetError, match=r"mapping\.txt: line 1 should be the header"):
        read_mapping(path)


# ---- file names and content --------------------------------------------------------------------------------

def test_file_names_keep_the_celebahq_id_and_content(tmp_path):
    ids = {3: 1, 2000: 2, 29999: 3}  # 2000 and 29999 sit in part folders 1 and 14
    parts = {idx: {"skin": (0, 512, 0, 512), "nose": (0, 100 + idx % 300, 0, 512)} for idx in ids}
    raw = write_fake_download(tmp_path / "raw", ids, parts)
    prepare_celebamask(raw, tmp_path / "out", workers=0, size=64)
    split = tmp_path / "out" / "train"
    assert sorted(p.name for p in (split / "images").iterdir()) == ["00003.jpg", "02000.jpg", "29999.jpg"]
    for idx in ids:
        image = read_image(split / "images" / f"{idx:05d}.jpg")
        assert image.shape == (64, 64, 3)
        assert np.abs(image.reshape(-1, 3).mean(0) - face_color(idx)).max() < 4
        mask = read_mask(split / "masks" / f"{idx:05d}.png")
        nose_rows = (100 + idx % 300) // 8
        assert (mask[:nose_rows] == label("nose")).all() and (mask[nose_rows + 1:] == label("skin")).all()


def test_other_size_resizes_image_and_mask(tmp_path):
    raw = write_fake_download(tmp_path / "raw", TRAIN, image_size=256)
    prepare_celebamask(raw, tmp_path / "out", workers=0, size=96)
    image = Image.open(tmp_path / "out" / "train" / "images" / "00000.jpg")
    mask = read_mask(tmp_path / "out" / "train" / "masks" / "00000.png")
    assert image.size == (96, 96) and mask.shape == (96, 96)
    assert set(np.unique(mask)) == {0, label("skin"), label("hair")}  # nearest: no blended labels
    assert check_dataset(tmp_path / "out").ok


def test_a_folder_prepared_at_one_size_refuses_another(tmp_path):
    raw = write_fake_download(tmp_path / "raw", TRAIN)
    prepare_celebamask(raw, tmp_path / "out", workers=0, size=64)
    with pytest.raises(DatasetError, match=rf"{SETTINGS_FILE}: this folder was prepared at size 64, not 128"):
        prepare_celebamask(raw, tmp_path / "out", workers=0, size=128)


def test_process_pool_writes_the_same_files_as_one_process(tmp_path):
    raw = write_fake_download(tmp_path / "raw", {i: i for i in range(6)})
    prepare_celebamask(raw, tmp_path / "serial", workers=0, size=64)
    summary = prepare_celebamask(raw, tmp_path / "pool", workers=2, size=64)
    assert summary.written == 6
    serial = {p.relative_to(tmp_path / "serial"): p.read_bytes() for p in (tmp_path / "serial").rglob("*.png")}
    pool = {p.relative_to(tmp_path / "pool"): p.read_bytes() for p in (tmp_path / "pool").rglob("*.png")}
    assert serial == pool and len(pool) == 6


# ---- idempotent and atomic ---------------------------------------------------------------------------------

def test_second_run_rewrites_nothing(tmp_path):
    raw = write_fake_download(tmp_path / "raw", {i: i for i in range(4)})
    first = prepare_celebamask(raw, tmp_path / "out", workers=0, size=64)
    before = files_with_stamps(tmp_path / "out")
    second = prepare_celebamask(raw, tmp_path / "out", workers=0, size=64)
    assert (first.written, first.skipped) == (4, 0)
    assert (second.written, second.skipped) == (0, 4)
    assert files_with_stamps(tmp_path / "out") == before


def test_temp_file_left_by_a_killed_run_is_not_taken_for_a_finished_one(tmp_path):
    raw = write_fake_download(tmp_path / "raw", TRAIN)
    prepare_celebamask(raw, tmp_path / "out", workers=0, size=64)
    images = tmp_path / "out" / "train" / "images"
    (images / "00001.jpg").unlink()
    (images / ".00001.jpg.4242.tmp").write_bytes(b"\xff\xd8 half a jpeg")  # what a SIGKILL mid-save leaves
    summary = prepare_celebamask(raw, tmp_path / "out", workers=0, size=64)
    assert (summary.written, summary.skipped) == (1, 1)
    assert read_image(images / "00001.jpg").shape == (64, 64, 3)
    assert sorted(p.name for p in images.iterdir()) == ["00000.jpg", "00001.jpg"]


def test_interrupted_save_leaves_no_file_under_the_final_name(tmp_path, monkeypatch):
    raw = write_fake_download(tmp_path / "raw", TRAIN)
    real_save = Image.Image.save

    def save_half_then_die(self, fp, *args, **kwargs):
        if "00001" in str(fp):
            with open(fp, "wb") as f:
                f.write(b"half")
            raise KeyboardInterrupt
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        prepare_celebamask(raw, tmp_path / "out", workers=0, size=64)
    monkeypatch.undo()
    left = sorted(p.name for p in (tmp_path / "out" / "train").rglob("*") if p.is_file())
    assert left == ["00000.jpg", "00000.png"]
    summary = prepare_celebamask(raw, tmp_path / "out", workers=0, size=64)
    assert (summary.written, summary.skipped) == (1, 1) and summary.complete


# ---- errors ------------------------------------------------------------------------------------------------

def test_missing_image_is_an_error_naming_it(tmp_path):
    raw = write_fake_download(tmp_path / "raw", TRAIN)
    (raw / "CelebA-HQ-img" / "1.jpg").unlink()
    with pytest.raises(DatasetError, match=r"CelebA-HQ-img/1\.jpg: image not found"):
        prepare_celebamask(raw, tmp_path / "out", workers=0)


def test_part_mask_of_the_wrong_size_is_an_error_naming_it(tmp_path):
    parts = {1: {"skin": (0, 512, 0, 512), "hair": np.zeros((256, 256), dtype=np.uint8)}}
    raw = write_fake_download(tmp_path / "raw", TRAIN, parts)
    with pytest.raises(DatasetError, match=r"0/00001_hair\.png: part mask is 256×256; expected 512×512"):
        prepare_celebamask(raw, tmp_path / "out", workers=0, size=64)
    # the good image was still prepared, so a re-run after the fix only redoes the bad one
    assert (tmp_path / "out" / "train" / "masks" / "00000.png").is_file()
    assert not (tmp_path / "out" / "train" / "masks" / "00001.png").exists()


def test_unreadable_part_file_is_an_error_naming_it(tmp_path):
    raw = write_fake_download(tmp_path / "raw", TRAIN)
    part_path(raw, 1, "hair").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"00001_hair\.png: unreadable"):
        prepare_celebamask(raw, tmp_path / "out", workers=0, size=64)


def test_truncated_image_is_an_error_naming_it(tmp_path):
    raw = write_fake_download(tmp_path / "raw", TRAIN, image_size=256)
    path = raw / "CelebA-HQ-img" / "0.jpg"
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DatasetError, match=r"CelebA-HQ-img/0\.jpg: unreadable"):
        prepare_celebamask(raw, tmp_path / "out", workers=0, size=64)


def test_errors_from_worker_processes_name_the_file(tmp_path):
    raw = write_fake_download(tmp_path / "raw", {i: i for i in range(4)})
    part_path(raw, 2, "skin").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"00002_skin\.png: unreadable"):
        prepare_celebamask(raw, tmp_path / "out", workers=2, size=64)
    assert len(list((tmp_path / "out" / "train" / "images").glob("*.jpg"))) == 3


def test_missing_mapping_file_and_part_folder_are_errors_naming_them(tmp_path):
    raw = write_fake_download(tmp_path / "raw", {2500: 1})
    (raw / "CelebAMask-HQ-mask-anno" / "1" / "02500_skin.png").unlink()
    (raw / "CelebAMask-HQ-mask-anno" / "1" / "02500_hair.png").unlink()
    (raw / "CelebAMask-HQ-mask-anno" / "1").rmdir()
    with pytest.raises(DatasetError, match=r"mask-anno/1: folder not found; expected the part masks of images 2000\.\.3999"):
        prepare_celebamask(raw, tmp_path / "out", workers=0)
    (raw / "CelebA-HQ-to-CelebA-mapping.txt").unlink()
    with pytest.raises(DatasetError, match=r"CelebA-HQ-to-CelebA-mapping\.txt: file not found"):
        prepare_celebamask(raw, tmp_path / "out", workers=0)


def test_missing_part_files_are_normal(tmp_path):
    raw = write_fake_download(tmp_path / "raw", {5: 1}, {5: {"nose": (0, 10, 0, 10)}})
    summary = prepare_celebamask(raw, tmp_path / "out", workers=0)
    mask = read_mask(tmp_path / "out" / "train" / "masks" / "00005.png")
    assert summary.complete and (mask[:10, :10] == label("nose")).all() and (mask[10:] == 0).all()


# ---- subsets -----------------------------------------------------------------------------------------------

def test_select_subset_is_deterministic_and_ignores_input_order():
    ids = list(range(100, 160))
    chosen = select_subset(ids, 10, seed=0)
    assert chosen == select_subset(reversed(ids), 10, seed=0) == sorted(chosen)
    assert len(set(chosen)) == 10 and set(chosen) <= set(ids)
    assert select_subset(ids, 10, seed=1) != chosen
    assert select_subset(ids, None) == ids == select_subset(ids, 1000)


def test_course_subset_takes_the_same_images_every_time(tmp_path):
    orig = {i: i for i in range(12)} | {i: 170000 + i for i in range(12, 20)}  # 12 train, 8 val
    raw = write_fake_download(tmp_path / "raw", orig)
    runs = []
    for name in ("a", "b"):
        summary = prepare_celebamask(raw, tmp_path / name, workers=0, size=32, subset={"train": 5, "val": 3},
                                     splits=("train", "val"))
        assert summary.found == {"train": 5, "val": 3}
        runs.append(sorted(str(p.relative_to(tmp_path / name)) for p in (tmp_path / name).rglob("*.jpg")))
    assert runs[0] == runs[1]
    assert not (tmp_path / "a" / "test").exists()
    val_ids = [int(p.split("/")[-1][:5]) for p in runs[0] if p.startswith("val/")]
    assert all(12 <= i < 20 for i in val_ids)


def test_final_count_reports_files_from_an_earlier_larger_selection(tmp_path):
    raw = write_fake_download(tmp_path / "raw", {i: i for i in range(6)})
    prepare_celebamask(raw, tmp_path / "out", workers=0, size=32)
    summary = prepare_celebamask(raw, tmp_path / "out", workers=0, size=32, subset={"train": 2})
    assert summary.selected["train"] == 2 and summary.found["train"] == 2 and summary.extra["train"] == 8
    assert "8 other files from an earlier run" in summary.format()


# ---- agreement with the plain official procedure (the benchmark's baseline) --------------------------------

def test_masks_equal_the_plain_official_procedure_and_images_match_closely(tmp_path):
    from faceparse_lib.bench.suites.prepare import make_fake_download, official_procedure

    raw = make_fake_download(tmp_path / "raw", 3)
    official_procedure(raw, tmp_path / "plain", 3)
    prepare_celebamask(raw, tmp_path / "fast", workers=0)
    for idx in range(3):
        name = f"{idx:05d}"
        assert np.array_equal(read_mask(tmp_path / "fast/train/masks" / f"{name}.png"),
                              read_mask(tmp_path / "plain/masks" / f"{name}.png"))
        fast = read_image(tmp_path / "fast/train/images" / f"{name}.jpg").astype(float)
        plain = read_image(tmp_path / "plain/images" / f"{name}.jpg").astype(float)
        assert 10 * np.log10(255**2 / ((fast - plain) ** 2).mean()) > 30  # PSNR in dB: the same picture
