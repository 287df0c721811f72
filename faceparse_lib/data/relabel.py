"""A corrected copy of a data set: masks with left and right swapped relabelled, every other file linked, not copied."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image

from faceparse_lib.classes import mask_palette
from faceparse_lib.data.layout import SPLITS, DatasetError, read_mask

MARKER = ".relabelled.json"


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links (Drive)
        shutil.copy2(source, target)


def swap_pairs(mask: np.ndarray, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """`mask` with the labels of each (left, right) pair in `pairs` traded, pixels unmoved."""
    table = np.arange(256, dtype=np.uint8)
    for left, right in pairs:
        table[left], table[right] = right, left
    return table[mask]


def relabel_swapped(root: str | Path, swapped: Mapping[Path, Sequence[tuple[int, int]]], dest: str | Path,
                    source_stamp: str | None = None) -> Path:
    """Write `dest`: `root` with the pairs of each mask in `swapped` (from `check_dataset`) traded back; once.

    Images and untouched masks are hard links (copies where links cannot be made); the relabelled masks are palette
    PNGs like the course's. A second call with the same list (and `source_stamp`, what identifies the source's
    version) returns at once; the copy is built beside `dest` and renamed into place, so an interrupted call leaves
    no half copy. `dest` must be new, empty or an earlier copy: nothing else is ever replaced.
    """
    root, dest = Path(root), Path(dest)
    record = {"source": str(root.resolve()), "source_stamp": source_stamp,
              "relabelled": {str(Path(p).resolve()): [list(pair) for pair in pairs] for p, pairs in sorted(swapped.items())}}
    marker = dest / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == record:
        return dest
    if dest.resolve() == root.resolve() or dest.resolve() in root.resolve().parents:
        raise DatasetError(f"{dest}: the corrected copy must go outside {root}, not into it or a folder above it")
    if dest.is_dir() and any(dest.iterdir()) and not marker.is_file():
        raise DatasetError(f"{dest}: not empty and not a corrected copy of the kit's; name a new folder")
    fixes = {Path(p).resolve(): pairs for p, pairs in swapped.items()}
    scratch = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    for split in SPLITS:
        for source in sorted((root / split).rglob("*")) if (root / split).is_dir() else []:
            if not source.is_file() or source.name.startswith("."):
                continue
            target = scratch / source.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            pairs = fixes.get(source.resolve())
            if pairs:
                mask = Image.fromarray(swap_pairs(read_mask(source), pairs), mode="P")
                mask.putpalette(mask_palette())
                mask.save(target)
            else:
                _link_or_copy(source, target)
    (scratch / MARKER).write_text(json.dumps(record, indent=1) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(scratch, dest)
    return dest
