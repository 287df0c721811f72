"""Write the course layout from the official CelebAMask-HQ download: plan, paint and save atomically, resume.

The facts of the download (paths, mapping file, split rule, paint order) live in `faceparse_lib.data.celebamask`.
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple

from PIL import Image

from faceparse_lib.data.celebamask import (
    IMAGE_DIR,
    MAPPING_FILE,
    OFFICIAL_COUNTS,
    PART_DIR,
    build_label_map,
    image_path,
    index_parts,
    load_face,
    official_split,
    read_mapping,
)
from faceparse_lib.data.layout import IMAGE_SIZE, SPLITS, DatasetError, first_problem, images_dir, masks_dir
from faceparse_lib.data.parallel import parallel_map, resolve_workers

log = logging.getLogger(__name__)

DEFAULT_SIZE = IMAGE_SIZE
JPEG_QUALITY = 95
SETTINGS_FILE = "prepare.json"
_TMP_SUFFIX = ".tmp"


def course_name(idx: int) -> str:
    """The course-layout file stem of CelebA-HQ image `idx`: its id, zero-padded so names sort numerically."""
    return f"{idx:05d}"


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


def _count(out_root: Path, selection: Mapping[str, list[int]], summary: PrepareSummary) -> None:
    """The final count check: how many selected ids of each split have both files, and what else is there."""
    for split, ids in selection.items():
        image_dir, mask_dir = images_dir(out_root, split), masks_dir(out_root, split)
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
        raise DatasetError(first_problem([f"{image_path(raw_root, i)}: image not found, though {MAPPING_FILE} lists it" for i in missing]))
    todo: dict[str, list[int]] = {}
    for split, ids in selection.items():
        if not ids:
            continue
        image_dir, mask_dir = images_dir(out_root, split), masks_dir(out_root, split)
        for folder in (image_dir, mask_dir):
            folder.mkdir(parents=True, exist_ok=True)
            _remove_stale_temporaries(folder)
        finished = _file_stems(image_dir, ".jpg") & _file_stems(mask_dir, ".png")
        todo[split] = [idx for idx in ids if course_name(idx) not in finished]
    done = len(all_ids) - sum(map(len, todo.values()))
    parts = index_parts(raw_root, [idx for ids in todo.values() for idx in ids])
    jobs = []
    for split, ids in todo.items():
        image_dir, mask_dir = images_dir(out_root, split), masks_dir(out_root, split)
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
    workers = resolve_workers(workers, len(jobs))
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
        raise DatasetError(first_problem(problems, note="; the other images were prepared"))
    if not summary.complete:
        raise DatasetError(f"{out_root}: final count check failed\n{summary.format()}")
    return summary
