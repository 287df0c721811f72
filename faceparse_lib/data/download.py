"""Getting CelebAMask-HQ into Colab or onto a laptop: find the zip (Google Drive or local), unpack it once, prepare it."""

from __future__ import annotations

import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Iterable

from faceparse_lib.data.celebamask import IMAGE_DIR, MAPPING_FILE
from faceparse_lib.data.layout import DatasetError, images_dir
from faceparse_lib.data.prepare import PrepareSummary, prepare_celebamask

log = logging.getLogger(__name__)

OFFICIAL_ZIP = "CelebAMask-HQ.zip"
OFFICIAL_DRIVE_ID = "1badu11NqxGf6qM3PTTooQDJvQbejgbTv"
OFFICIAL_PAGE = "https://github.com/switchablenorms/CelebAMask-HQ"
COLAB_DRIVE = Path("/content/drive/MyDrive")


class DownloadError(DatasetError, RuntimeError):
    """The download could not be fetched; the message says how to get the file by hand."""


def find_zip(places: Iterable[str | Path], name: str = OFFICIAL_ZIP, depth: int = 2) -> Path | None:
    """The first zip called `name` among `places` (zip files, or folders searched `depth` levels down)."""
    for place in map(Path, places):
        if place.is_file() and place.suffix.lower() == ".zip":
            return place
        if place.is_dir():
            for level in range(depth + 1):
                hits = sorted(place.glob("/".join(["*"] * level + [name])))
                if hits:
                    return hits[0]
    return None


def _candidates(folder: Path) -> list[Path]:
    """`folder` and its sub-folders, the places an unpacked download or course set may sit."""
    if not folder.is_dir():
        return []
    return [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]


def find_raw_root(folder: str | Path) -> Path | None:
    """The unpacked official download in or just under `folder` (the folder holding CelebA-HQ-img/), if any."""
    for candidate in _candidates(Path(folder)):
        if (candidate / MAPPING_FILE).is_file() and (candidate / IMAGE_DIR).is_dir():
            return candidate
    return None


def find_course_root(folder: str | Path) -> Path | None:
    """A data set already in the course layout (train/images/) in or just under `folder`, if any."""
    for candidate in _candidates(Path(folder)):
        if images_dir(candidate, "train").is_dir():
            return candidate
    return None


def unpack(zip_path: str | Path, dest: str | Path, password: str | None = None, progress: bool = False) -> Path:
    """Extract `zip_path` into `dest` once; later calls return at once, and an interrupted one resumes."""
    from tqdm.auto import tqdm

    zip_path, dest = Path(zip_path), Path(dest)
    marker = dest / f".{zip_path.name}.unpacked"
    if marker.is_file():
        log.info("%s already unpacked in %s", zip_path, dest)
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            for member in tqdm(members, desc=f"unpack {zip_path.name}", unit="file", disable=not progress):
                target = dest / member.filename
                # A file of the full size was finished by an earlier, interrupted call (zip writes sequentially).
                if target.is_file() and target.stat().st_size == member.file_size:
                    continue
                archive.extract(member, dest, pwd=password.encode() if password else None)
    except FileNotFoundError:
        raise DatasetError(f"{zip_path}: file not found") from None
    except zipfile.BadZipFile as err:
        raise DatasetError(
            f"{zip_path}: not a complete zip file ({err}); was the download or the copy to Drive interrupted?"
        ) from err
    except RuntimeError as err:  # zipfile's way of saying "encrypted" or "bad password"
        raise DatasetError(f"{zip_path}: {err}; pass the password the dataset authors gave you") from err
    marker.write_text(json.dumps({"zip": str(zip_path), "files": len(members)}) + "\n")
    return dest


def download_official_zip(dest_dir: str | Path, quiet: bool = False) -> Path:
    """Download CelebAMask-HQ.zip from the authors' Google Drive into `dest_dir` (needs the gdown package)."""
    dest_dir = Path(dest_dir)
    target = dest_dir / OFFICIAL_ZIP
    if target.is_file():
        return target
    manual = (
        f"download {OFFICIAL_ZIP} yourself (Google Drive link on {OFFICIAL_PAGE}), put it in your Google Drive "
        "or on this machine, and pass its path"
    )
    try:
        import gdown
    except ImportError:
        raise DownloadError(f"downloading from Google Drive needs the gdown package (Colab has it; `pip install gdown`), or {manual}") from None
    dest_dir.mkdir(parents=True, exist_ok=True)
    partial = dest_dir / f".{OFFICIAL_ZIP}.part"
    try:
        result = gdown.download(f"https://drive.google.com/uc?id={OFFICIAL_DRIVE_ID}", str(partial), quiet=quiet)
    except Exception as err:  # gdown raises its own types, which differ between versions
        partial.unlink(missing_ok=True)
        raise DownloadError(f"the Google Drive download failed ({err}); this file often hits its daily quota: {manual}") from err
    if result is None or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise DownloadError(f"the Google Drive download failed; this file often hits its daily quota: {manual}")
    os.replace(partial, target)
    return target


def default_work_dir(out_root: str | Path) -> Path:
    """Where zips are unpacked unless told otherwise: a folder beside the prepared data."""
    return Path(out_root).parent / "CelebAMask-HQ-download"


def locate(
    source: str | Path | None,
    work_dir: str | Path,
    *,
    download: bool = False,
    password: str | None = None,
    progress: bool = False,
) -> tuple[str, Path]:
    """Find the data, unpacking a zip into `work_dir` once: ("course", root) or ("official", unpacked download).

    `source` may be a folder in the course layout, the unpacked official download, `CelebAMask-HQ.zip` (or a
    course-set zip), or a folder holding one (such as your Google Drive); None looks in the mounted Drive.
    """
    places = [Path(source)] if source is not None else [COLAB_DRIVE]
    for place in places:
        if place.is_dir():
            course = find_course_root(place)
            if course is not None:
                return "course", course
            raw = find_raw_root(place)
            if raw is not None:
                return "official", raw
    archive = find_zip(places)
    if archive is None and download:
        archive = download_official_zip(work_dir, quiet=not progress)
    if archive is None:
        looked = ", ".join(str(p) for p in places)
        raise DatasetError(
            f"{looked}: no {OFFICIAL_ZIP}, unpacked download or course-layout folder found; see data/README.md "
            "for where to get it (or ask for the download from the authors' Google Drive)"
        )
    unpacked = unpack(archive, Path(work_dir) / archive.stem, password=password, progress=progress)
    course = find_course_root(unpacked)
    if course is not None:
        return "course", course
    raw = find_raw_root(unpacked)
    if raw is None:
        raise DatasetError(f"{archive}: holds neither the official CelebAMask-HQ folders nor a course-layout train/images/")
    return "official", raw


def prepare_from_source(
    source: str | Path | None,
    out_root: str | Path,
    *,
    work_dir: str | Path | None = None,
    download: bool = False,
    password: str | None = None,
    progress: bool = False,
    **prepare_options: object,
) -> tuple[Path, PrepareSummary | None]:
    """Find, unpack and prepare the data as needed: (course-layout folder, what was prepared or None if it already was).

    The one prepare flow behind `get_celebamask` and `python -m faceparse_lib prepare`. See `locate` for what
    `source` may be; `prepare_options` go to `prepare_celebamask` (workers, size, subset, splits, seed...).
    """
    work_dir = Path(work_dir) if work_dir is not None else default_work_dir(out_root)
    kind, root = locate(source, work_dir, download=download, password=password, progress=progress)
    if kind == "course":
        log.info("%s is already in the course layout", root)
        return root, None
    summary = prepare_celebamask(root, out_root, progress=progress, **prepare_options)
    return Path(out_root), summary


def get_celebamask(
    source: str | Path | None,
    out_root: str | Path,
    *,
    work_dir: str | Path | None = None,
    download: bool = False,
    password: str | None = None,
    progress: bool = False,
    **prepare_options: object,
) -> Path:
    """Find, unpack and prepare the data as needed; return the course-layout folder to train on.

    See `locate` for what `source` may be; `prepare_options` go to `prepare_celebamask` (workers, size, subset...).
    """
    root, _ = prepare_from_source(
        source, out_root, work_dir=work_dir, download=download, password=password, progress=progress, **prepare_options
    )
    return root
