"""Official CelebAMask-HQ download -> course layout: label maps in the official paint order, the official split."""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple

import numpy as np
from PIL import Image

from faceparse_lib.classes import CLASSES
from faceparse_lib.data import SPLITS, DatasetError, decode_image, open_image
from faceparse_lib.parallel import default_workers, parallel_map

log = logging.getLogger(__name__)

# The official download (the folder `CelebAMask-HQ/` inside CelebAMask-HQ.zip).
IMAGE_DIR = "CelebA-HQ-img"
PART_DIR = "CelebAMask-HQ-mask-anno"
MAPPING_FILE = "CelebA-HQ-to-CelebA-mapping.txt"
IDS_PER_PART_FOLDER = 2000
PART_SIZE = 512

# The official g_mask.py paints part i of this list with value i + 1, later parts over earlier ones. The list is
# the class order without background, so the painted value is the class index (neck over necklace, cloth last).
PAINT_ORDER: tuple[str, ...] = CLASSES[1:]

# CelebA's own partition, by the 0-based `orig_idx` of the mapping file (orig_file 000001..162770 is train,
# 162771..182637 val, the rest test).
VAL_START = 162770
TEST_START = 182637
OFFICIAL_COUNTS = {"train": 24183, "val": 2993, "test": 2824}

DEFAULT_SIZE = 512
JPEG_QUALITY = 95
SETTINGS_FILE = "prepare.json"
_TMP_SUFFIX = ".tmp"


def split_of(orig_idx: int) -> str:
    """The official split ("train", "val" or "test") of a CelebA image by its 0-based index."""
    if orig_idx < VAL_START:
        return "train"
    return "val" if orig_idx < TEST_START else "test"


def image_path(raw_root: str | Path, idx: int) -> Path:
    """Where the official download keeps the 1024×1024 photo of CelebA-HQ image `idx`."""
    return Path(raw_root) / IMAGE_DIR / f"{idx}.jpg"


def part_path(raw_root: str | Path, idx: int, part: str) -> Path:
    """Where the official download keeps part `part` (e.g. "hair") of CelebA-HQ image `idx`."""
    return Path(raw_root) / PART_DIR / str(idx // IDS_PER_PART_FOLDER) / f"{idx:05d}_{part}.png"


def course_name(idx: int) -> str:
    """The course-layout file stem of CelebA-HQ image `idx`: its id, zero-padded so names sort numerically."""
    return f"{idx:05d}"


def read_mapping(path: str | Path) -> dict[int, int]:
    """CelebA-HQ id -> 0-based CelebA index (`orig_idx`) from CelebA-HQ-to-CelebA-mapping.txt."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found; expected the mapping file of the official download")
    lines = path.read_text().splitlines()
    if not lines or lines[0].split()[:2] != ["idx", "orig_idx"]:
        raise DatasetError(f"{path}: line 1 should be the header 'idx orig_idx orig_file'")
    mapping: dict[int, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        try:
            idx, orig_idx = int(fields[0]), int(fields[1])
        except (ValueError, IndexError):
            raise DatasetError(f"{path}: line {number} {line.strip()!r}; expected 'idx orig_idx orig_file'") from None
        if idx in mapping:
            raise DatasetError(f"{path}: line {number} repeats idx {idx}")
        mapping[idx] = orig_idx
    return mapping


def official_split(mapping: Mapping[int, int]) -> dict[str, list[int]]:
    """The CelebA-HQ ids of each official split, sorted."""
    splits: dict[str, list[int]] = {name: [] for name in SPLITS}
    for idx in sorted(mapping):
        splits[split_of(mapping[idx])].append(idx)
    return splits


def select_subset(ids: Iterable[int], n: int | None, seed: int = 0) -> list[int]:
    """A sorted, seeded random choice of `n` ids (all of them when `n` is None or not smaller)."""
    pool = sorted(ids)
    if n is None or n >= len(pool):
        if n is not None and n > len(pool):
            log.warning("asked for %d images but only %d are there; taking all", n, len(pool))
        return pool
    if n < 0:
        raise ValueError(f"subset size must be >= 0, got {n}")
    return sorted(random.Random(seed).sample(pool, n))


def read_part(path: str | Path) -> np.ndarray:
    """The pixels of a 512×512 part mask that the official procedure counts as the part (non-zero), as bool."""
    path = Path(path)
    with open_image(path) as image:
        if image.size != (PART_SIZE, PART_SIZE):
            raise DatasetError(
                f"{path}: part mask is {image.size[0]}×{image.size[1]}; expected {PART_SIZE}×{PART_SIZE}"
            )
        image = decode_image(image, path)
        # g_mask.py reads with OpenCV and tests channel 0, which is blue; greyscale files are the same thing.
        if image.mode in ("RGB", "RGBA"):
            image = image.getchannel("B")
        elif image.mode in ("P", "PA"):
            image = image.convert("RGB").getchannel("B")
        elif image.mode == "LA":
            image = image.getchannel("L")
        return np.asarray(image) != 0


def build_label_map(parts: Mapping[str, str | Path]) -> np.ndarray:
    """Paint the part masks {part name: path} into a 512×512 uint8 label map in the official order."""
    unknown = set(parts) - set(PAINT_ORDER)
    if unknown:
        raise ValueError(f"unknown part names {sorted(unknown)}; expected some of {', '.join(PAINT_ORDER)}")
    labels = np.zeros((PART_SIZE, PART_SIZE), dtype=np.uint8)
    for value, part in enumerate(PAINT_ORDER, start=1):
        if part in parts:
            np.copyto(labels, np.uint8(value), where=read_part(parts[part]))
    return labels


def load_face(path: str | Path, size: int = DEFAULT_SIZE) -> Image.Image:
    """The square face photo at `path` as an RGB image of `size`×`size`, downscaled with antialiasing."""
    path = Path(path)
    with open_image(path) as image:
        if image.size[0] != image.size[1]:
            raise DatasetError(f"{path}: image is {image.size[0]}×{image.size[1]}; expected a square face photo")
        # JPEG only: decode straight at 1/2, 1/4 or 1/8 scale (an antialiased DCT-domain downscale), skipping
        # most of the decoding and resizing work; never below `size`.
        image.draft("RGB", (size, size))
        face = decode_image(image, path).convert("RGB")
    if face.size != (size, size):
        face = face.resize((size, size), Image.Resampling.LANCZOS)
    return face


def _save_atomic(image: Image.Image, path: Path, **options: object) -> None:
    """Save beside `path` under a temporary name, then rename, so `path` is either complete or absent."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{_TMP_SUFFIX}")
    try:
        image.save(tmp, **options)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _Job(NamedTuple):
    """Everything one worker needs to turn one CelebA-HQ id into a course-layout image and mask."""

    image: Path
    parts: dict[str, Path]
    out_image: Path
    out_mask: Path
    size: int
    jpeg_quality: int


def _prepare_one(job: _Job) -> str | None:
    """Write one image and its mask; return the problem as text instead of raising, so the run goes on."""
    try:
        labels = build_label_map(job.parts)
        face = load_face(job.image, job.size)
    except DatasetError as err:
        return str(err)
    mask = Image.fromarray(labels)
    if mask.size != (job.size, job.size):
        mask = mask.resize((job.size, job.size), Image.Resampling.NEAREST)
    # Mask first: a job counts as done only when both files exist, and the image is the last one written.
    _save_atomic(mask, job.out_mask, format="PNG", compress_level=1)
    _save_atomic(face, job.out_image, format="JPEG", quality=job.jpeg_quality)
    return None


def _index_parts(raw_root: Path, ids: Iterable[int]) -> dict[int, dict[str, Path]]:
    """{id: {part: path}} for the part files that exist, listing each part folder once."""
    wanted = set(ids)
    found: dict[int, dict[str, Path]] = {idx: {} for idx in wanted}
    known = set(PAINT_ORDER)
    for number in sorted({idx // IDS_PER_PART_FOLDER for idx in wanted}):
        folder = raw_root / PART_DIR / str(number)
        if not folder.is_dir():
            first = number * IDS_PER_PART_FOLDER
            raise DatasetError(
                f"{folder}: folder not found; expected the part masks of images {first}..{first + IDS_PER_PART_FOLDER - 1}"
            )
        with os.scandir(folder) as entries:
            for entry in entries:
                stem, dot, suffix = entry.name.rpartition(".")
                head, _, part = stem.partition("_")
                if suffix == "png" and head.isdigit() and part in known and int(head) in wanted:
                    found[int(head)][part] = Path(entry.path)
    return found


def _file_stems(folder: Path, suffix: str) -> set[str]:
    """Stems of the finished files in `folder` ending in `suffix` (temporary files never match)."""
    if not folder.is_dir():
        return set()
    with os.scandir(folder) as entries:
        return {e.name[: -len(suffix)] for e in entries if e.name.endswith(suffix) and not e.name.startswith(".")}


def _remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporary files a killed run left behind."""
    for tmp in folder.glob(f".*{_TMP_SUFFIX}"):
        log.info("removing %s left by an interrupted run", tmp)
        tmp.unlink(missing_ok=True)


def _check_settings(out_root: Path, size: int, jpeg_quality: int) -> None:
    """Refuse to mix sizes in one folder; record the settings of a new one."""
    settings = {"source": "CelebAMask-HQ", "size": size, "jpeg_quality": jpeg_quality}
    path = out_root / SETTINGS_FILE
    if path.is_file():
        try:
            earlier = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DatasetError(f"{path}: unreadable settings of an earlier run ({err}); delete it to start over") from err
        if earlier.get("size") != size:
            raise DatasetError(
                f"{path}: this folder was prepared at size {earlier.get('size')}, not {size}; "
                "use another output folder or delete this one"
            )
        return
    out_root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{_TMP_SUFFIX}")
    tmp.write_text(json.dumps(settings, indent=2) + "\n")
    os.replace(tmp, path)


@dataclass
class PrepareSummary:
    """What `prepare_celebamask` did and the final count check of each split."""

    out_root: Path
    selected: dict[str, int] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=dict)
    written: int = 0
    skipped: int = 0

    @property
    def complete(self) -> bool:
        """Whether every selected image has its image and mask on disk."""
        return all(self.found.get(split, 0) == n for split, n in self.selected.items())

    def format(self) -> str:
        """A plain-text summary for the terminal or a notebook."""
        lines = [f"{self.out_root}: {self.written} images written, {self.skipped} already there"]
        for split, n in self.selected.items():
            found = self.found.get(split, 0)
            status = "ok" if found == n else f"MISSING {n - found}"
            official = f" (official split: {OFFICIAL_COUNTS[split]:,})" if split in OFFICIAL_COUNTS else ""
            extra = f"; {self.extra[split]} other files from an earlier run" if self.extra.get(split) else ""
            lines.append(f"  {split}: {found:,} of {n:,} images with masks, {status}{official}{extra}")
        return "\n".join(lines)


def _selection(
    mapping: Mapping[int, int], splits: Iterable[str], subset: Mapping[str, int | None], seed: int
) -> dict[str, list[int]]:
    """The ids to prepare in each requested split: the official split, cut to the subset sizes."""
    unknown = (set(splits) | set(subset)) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split names {sorted(unknown)}; choose from {', '.join(SPLITS)}")
    official = official_split(mapping)
    counts = {split: len(ids) for split, ids in official.items()}
    if len(mapping) == sum(OFFICIAL_COUNTS.values()) and counts != OFFICIAL_COUNTS:
        log.warning("the mapping file splits into %s, not the official %s", counts, OFFICIAL_COUNTS)
    return {split: select_subset(official[split], subset.get(split), seed) for split in splits}


def _split_dirs(out_root: Path, split: str) -> tuple[Path, Path]:
    return out_root / split / "images", out_root / split / "masks"


def _count(out_root: Path, selection: Mapping[str, list[int]], summary: PrepareSummary) -> None:
    """The final count check: how many selected ids of each split have both files, and what else is there."""
    for split, ids in selection.items():
        image_dir, mask_dir = _split_dirs(out_root, split)
        images, masks = _file_stems(image_dir, ".jpg"), _file_stems(mask_dir, ".png")
        names = {course_name(idx) for idx in ids}
        summary.selected[split] = len(ids)
        summary.found[split] = len(names & images & masks)
        summary.extra[split] = len(images - names) + len(masks - names)


def _jobs(
    raw_root: Path, out_root: Path, selection: Mapping[str, list[int]], size: int, jpeg_quality: int
) -> tuple[list[_Job], int]:
    """The jobs still to do (ids whose image or mask is not finished) and how many are already done."""
    all_ids = [idx for ids in selection.values() for idx in ids]
    present = _file_stems(raw_root / IMAGE_DIR, ".jpg")
    missing = [idx for idx in all_ids if str(idx) not in present]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DatasetError(f"{image_path(raw_root, missing[0])}: image not found, though {MAPPING_FILE} lists it{more}")
    todo: dict[str, list[int]] = {}
    for split, ids in selection.items():
        if not ids:
            continue
        image_dir, mask_dir = _split_dirs(out_root, split)
        for folder in (image_dir, mask_dir):
            folder.mkdir(parents=True, exist_ok=True)
            _remove_stale_temporaries(folder)
        finished = _file_stems(image_dir, ".jpg") & _file_stems(mask_dir, ".png")
        todo[split] = [idx for idx in ids if course_name(idx) not in finished]
    done = len(all_ids) - sum(map(len, todo.values()))
    parts = _index_parts(raw_root, [idx for ids in todo.values() for idx in ids])
    jobs = []
    for split, ids in todo.items():
        image_dir, mask_dir = _split_dirs(out_root, split)
        for idx in ids:
            if not parts[idx]:
                log.warning("%s: no part masks for image %d; its label map is all background", raw_root / PART_DIR, idx)
            name = course_name(idx)
            jobs.append(
                _Job(image_path(raw_root, idx), parts[idx], image_dir / f"{name}.jpg", mask_dir / f"{name}.png", size, jpeg_quality)
            )
    return jobs, done


def _chunksize(jobs: int, workers: int) -> int:
    """Chunks small enough to balance the pool, large enough to keep its overhead low."""
    return max(1, min(16, jobs // (4 * max(1, workers))))


def prepare_celebamask(
    raw_root: str | Path,
    out_root: str | Path,
    workers: int | None = None,
    *,
    size: int = DEFAULT_SIZE,
    subset: Mapping[str, int | None] | None = None,
    splits: Iterable[str] = SPLITS,
    seed: int = 0,
    jpeg_quality: int = JPEG_QUALITY,
    progress: bool = False,
) -> PrepareSummary:
    """Turn the official CelebAMask-HQ download into the course layout with the official split.

    Files are named by CelebA-HQ id (`00012.jpg` is `12.jpg`); finished files are skipped, so an interrupted run
    can simply be started again. `subset={"train": 5000, "val": 1000}` takes a seeded random part of a split.
    """
    from tqdm.auto import tqdm

    raw_root, out_root = Path(raw_root), Path(out_root)
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    for folder in (raw_root / IMAGE_DIR, raw_root / PART_DIR):
        if not folder.is_dir():
            raise DatasetError(f"{folder}: folder not found; expected the unpacked official CelebAMask-HQ download")
    selection = _selection(read_mapping(raw_root / MAPPING_FILE), list(splits), dict(subset or {}), seed)
    _check_settings(out_root, size, jpeg_quality)
    jobs, done = _jobs(raw_root, out_root, selection, size, jpeg_quality)
    summary = PrepareSummary(out_root, skipped=done)
    log.info("%d images to prepare, %d already done", len(jobs), done)
    problems: list[str] = []
    workers = default_workers() if workers is None else workers
    results = parallel_map(_prepare_one, jobs, workers, chunksize=_chunksize(len(jobs), workers))
    with tqdm(total=len(jobs), desc="prepare CelebAMask-HQ", unit="img", disable=not progress) as bar:
        for problem in results:
            if problem is None:
                summary.written += 1
            else:
                problems.append(problem)
                log.error(problem)
            bar.update()
    _count(out_root, selection, summary)
    log.info("%s", summary.format())
    if problems:
        more = f" (and {len(problems) - 1} more; the other images were prepared)" if len(problems) > 1 else ""
        raise DatasetError(problems[0] + more)
    if not summary.complete:
        raise DatasetError(f"{out_root}: final count check failed\n{summary.format()}")
    return summary
