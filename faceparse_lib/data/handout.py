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


class HandoutNotFound(DatasetError):
    """No zip holding a split of the hand-out and no course-layout folder in the places searched."""


@dataclass
class Handout:
    """A hand-out on local disk: its course-layout root, the zips each split came from, and what each split holds."""

    root: Path
    zips: dict[str, Path] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)
    masks: dict[str, int] = field(default_factory=dict)
    skipped: list[Path] = field(default_factory=list)  # .zip files that could not be read

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
        skipped = f"; skipped, not a readable zip: {', '.join(map(str, self.skipped))}" if self.skipped else ""
        return f"data {self.root}: " + "; ".join(parts) + skipped


def split_in_member(name: str) -> tuple[str, PurePosixPath] | None:
    """(split, path from the split folder on) for a zip member under SPLIT/images/ or SPLIT/masks/, else None."""
    parts = PurePosixPath(name.replace("\\", "/")).parts  # older Windows tools write backslashes
    if any(part in SKIPPED_PARTS or part.startswith("._") or part in ("..", "/") for part in parts):
        return None  # macOS extras, and names that would land outside the unpack folder
    for i in range(len(parts) - 2):
        if parts[i] in SPLITS and parts[i + 1] in (IMAGES_DIR, MASKS_DIR):
            return parts[i], PurePosixPath(*parts[i:])
    return None


def splits_in_zip(path: Path) -> set[str] | None:
    """The hand-out splits a zip holds (by its member names; nothing is extracted); None for an unreadable zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {found[0] for found in map(split_in_member, archive.namelist()) if found}
    except (zipfile.BadZipFile, OSError):
        log.warning("%s: not a readable zip (an interrupted upload?); skipped", path)
        return None


def zips_under(place: Path, depth: int = ZIP_SEARCH_DEPTH) -> list[Path]:
    """Zip files in `place` and up to `depth` folders below it, nearest first; a zip file stands for its folder."""
    if place.is_file():
        return zips_under(place.parent, 0) if place.suffix.lower() == ".zip" else []
    found: list[Path] = []
    for level in range(depth + 1):
        pattern = "/".join(["*"] * level + ["*.zip"])
        found += sorted(p for p in place.glob(pattern) if p.is_file() and not p.name.startswith("."))
    return found


def find_handout_zips(places: Iterable[str | Path], depth: int = ZIP_SEARCH_DEPTH,
                      skipped: list[Path] | None = None) -> dict[str, Path]:
    """The zip holding each split, found by content in the first of `places` that holds any; unreadable zips are
    added to `skipped`. Two zips holding one split is an error."""
    by_split: dict[str, list[Path]] = {}
    for place in map(Path, places):
        for path in zips_under(place, depth):
            splits = splits_in_zip(path)
            if splits is None and skipped is not None:
                skipped.append(path)
            for split in splits or ():
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
    """Find the hand-out in `places` (a folder holding its zips, a zip, or a course-layout folder), unpack it to `dest`.

    Zips come first: the first place holding any is unpacked into `dest` (the kit's own folder: a split no zip holds
    any more is removed from it), once per zip. Without zips, the first course-layout folder is used where it is.
    Raises HandoutNotFound naming the places searched (and any unreadable zip) when there is neither.
    """
    places = [Path(p).expanduser() for p in places]
    dest = Path(dest)
    skipped: list[Path] = []
    zips = find_handout_zips([p for p in places if p.resolve() != dest.resolve()], skipped=skipped)
    if not zips:
        for place in places:
            if place.is_dir() and is_course_layout(place):
                return _describe(place, {})
        looked = ", ".join(str(p) for p in places) or "nowhere"
        unreadable = f"; not a readable zip (an interrupted upload?): {', '.join(map(str, skipped))}" if skipped else ""
        raise HandoutNotFound(f"{looked}: no hand-out found (no zip holding train/images/, no folder with "
                              f"train/images/){unreadable}; put train.zip (and val.zip, test.zip) there, or name "
                              "their folder in DATA")
    if "train" not in zips:
        raise DatasetError(f"{', '.join(map(str, zips.values()))}: holds {', '.join(zips)} but no train/; "
                           "train.zip is the one with the training pairs")
    dest.mkdir(parents=True, exist_ok=True)
    for split, path in zips.items():
        unpack_split(path, split, dest, progress=progress)
    for split in set(SPLITS) - set(zips):  # left from an earlier hand-out: not what the zips hold now
        shutil.rmtree(dest / split, ignore_errors=True)
        (dest / f".{split}.unpacked").unlink(missing_ok=True)
    handout = _describe(dest, zips)
    handout.skipped = skipped
    return handout
