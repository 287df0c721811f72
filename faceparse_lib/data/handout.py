"""The challenge hand-out: find its zips (on Google Drive or in a folder), unpack them once to local disk, say what came.

The course hands out `train.zip` (train/images + train/masks), `val.zip` (val/images, no masks) and, a week before
the deadline, `test.zip` (test/images). A zip is recognised by what it holds, not by its name, so a renamed
download (`train (1).zip`) or one zip holding all three splits works too. Each split is unpacked into one
course-layout folder on local disk (reading a thousand small files from Drive is slow); a second call in the same
runtime finds its marker and returns at once, and a zip that changed (a corrected re-issue) is unpacked again.
"""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable

from faceparse_lib.data.layout import IMAGES_DIR, MASKS_DIR, SPLITS, DatasetError, image_files, mask_files

log = logging.getLogger(__name__)

ZIP_SEARCH_DEPTH = 3  # MyDrive/AI6126/project/data/train.zip is three folders down
SKIPPED_PARTS = ("__MACOSX",)


@dataclass
class Handout:
    """A hand-out on local disk: its course-layout root, the zips each split came from, and what each split holds."""

    root: Path
    zips: dict[str, Path] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)
    masks: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: where the data is and what each split holds (and what has not arrived yet)."""
        parts = []
        for split in SPLITS:
            if split not in self.images:
                parts.append(f"{split}: not yet" + (" (test.zip comes a week before the deadline)" if split == "test" else ""))
                continue
            what = f"{self.images[split]:,} images" + (f" + {self.masks[split]:,} masks" if self.masks.get(split) else "")
            source = f" from {self.zips[split].name}" if split in self.zips else ""
            parts.append(f"{split}: {what}{source}")
        return f"data {self.root}: " + "; ".join(parts)


def split_in_member(name: str) -> tuple[str, PurePosixPath] | None:
    """(split, path from the split folder on) for a zip member under SPLIT/images/ or SPLIT/masks/, else None."""
    parts = PurePosixPath(name).parts
    if any(part in SKIPPED_PARTS or part.startswith("._") for part in parts):
        return None
    for i in range(len(parts) - 2):
        if parts[i] in SPLITS and parts[i + 1] in (IMAGES_DIR, MASKS_DIR):
            return parts[i], PurePosixPath(*parts[i:])
    return None


def splits_in_zip(path: Path) -> set[str]:
    """The hand-out splits a zip holds (by its member names; nothing is extracted), or an empty set."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {found[0] for found in map(split_in_member, archive.namelist()) if found}
    except (zipfile.BadZipFile, OSError):
        log.info("%s: not a readable zip; skipped", path)
        return set()


def zips_under(place: Path, depth: int = ZIP_SEARCH_DEPTH) -> list[Path]:
    """Zip files in `place` and up to `depth` folders below it, nearest first (or `place` itself if it is a zip)."""
    if place.is_file():
        return [place] if place.suffix.lower() == ".zip" else []
    found: list[Path] = []
    for level in range(depth + 1):
        pattern = "/".join(["*"] * level + ["*.zip"])
        found += sorted(p for p in place.glob(pattern) if p.is_file() and not p.name.startswith("."))
    return found


def find_handout_zips(places: Iterable[str | Path], depth: int = ZIP_SEARCH_DEPTH) -> dict[str, Path]:
    """The zip holding each split, found by content among `places`; two zips holding one split is an error."""
    by_split: dict[str, list[Path]] = {}
    for place in map(Path, places):
        for path in zips_under(place, depth):
            for split in splits_in_zip(path):
                by_split.setdefault(split, []).append(path)
        if by_split:  # the first place that holds any of the hand-out is the one
            break
    for split, paths in by_split.items():
        if len(set(paths)) > 1:
            raise DatasetError(f"{len(paths)} zips hold {split}/: {', '.join(map(str, paths))}; keep one, or point "
                               "DATA at the folder (or zip) to use")
    return {split: paths[0] for split, paths in sorted(by_split.items(), key=lambda kv: SPLITS.index(kv[0]))}


def _stamp(path: Path) -> dict:
    stat = path.stat()
    return {"zip": str(path), "bytes": stat.st_size, "modified": stat.st_mtime}


def unpack_split(zip_path: Path, split: str, root: Path, progress: bool = False) -> None:
    """Extract one split of a hand-out zip into root/SPLIT, once: a marker records the zip it came from."""
    from tqdm.auto import tqdm

    marker = root / f".{split}.unpacked"
    stamp = _stamp(zip_path)
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return
    target = root / split
    if target.exists():  # a changed zip (or an interrupted unpack): the split is written again from scratch
        shutil.rmtree(target)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = [(m, found[1]) for m in archive.infolist()
                       if not m.is_dir() and (found := split_in_member(m.filename)) and found[0] == split]
            for member, relative in tqdm(members, desc=f"unpack {zip_path.name}", unit="file", disable=not progress):
                destination = root / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(destination, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    except zipfile.BadZipFile as err:
        raise DatasetError(f"{zip_path}: not a complete zip file ({err}); was the upload to Drive interrupted?") from err
    marker.write_text(json.dumps(stamp) + "\n")


def _describe(root: Path, zips: dict[str, Path]) -> Handout:
    handout = Handout(root, dict(zips))
    for split in SPLITS:
        if (root / split / IMAGES_DIR).is_dir():
            handout.images[split] = len(image_files(root, split))
            handout.masks[split] = len(mask_files(root, split)) if (root / split / MASKS_DIR).is_dir() else 0
    if not handout.images.get("train"):
        raise DatasetError(f"{root}/train/images: no training images; expected the hand-out's train.zip")
    if not handout.masks.get("train"):
        raise DatasetError(f"{root}/train/masks: no masks; expected one PNG per training image (train.zip)")
    return handout


def is_course_layout(folder: Path) -> bool:
    """Whether `folder` already holds the course layout (train/images/)."""
    return (folder / "train" / IMAGES_DIR).is_dir()


def get_handout(places: Iterable[str | Path], dest: str | Path, progress: bool = False) -> Handout:
    """Find the hand-out in `places` (a course-layout folder, a zip, or a folder holding the zips), unpack it to `dest`.

    A course-layout folder is used where it is; zips are unpacked into `dest` once per zip. Raises DatasetError
    naming the places searched when no split of the hand-out is found.
    """
    places = [Path(p).expanduser() for p in places]
    for place in places:
        if place.is_dir() and is_course_layout(place):
            return _describe(place, {})
    zips = find_handout_zips(places)
    if not zips:
        looked = ", ".join(str(p) for p in places) or "nowhere"
        raise DatasetError(f"{looked}: no hand-out found (no zip holding train/images/, no folder with train/images/); "
                           "put train.zip (and val.zip, test.zip) there, or name their folder in DATA")
    if "train" not in zips:
        raise DatasetError(f"{', '.join(map(str, zips.values()))}: holds {', '.join(zips)} but no train/; "
                           "train.zip is the one with the training pairs")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for split, path in zips.items():
        unpack_split(path, split, dest, progress=progress)
    return _describe(dest, zips)

