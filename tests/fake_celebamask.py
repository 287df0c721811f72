"""A tiny fake of the official CelebAMask-HQ download for the tests: a few ids, a few part files, a mapping file."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np
from PIL import Image

from faceparse_lib.data.celebamask import IMAGE_DIR, MAPPING_FILE, PART_DIR, PART_SIZE, image_path, part_path

# A part is a box (top, bottom, left, right) in 512×512 mask pixels, or a full array written as it is.
Part = tuple[int, int, int, int] | np.ndarray


def face_color(idx: int) -> tuple[int, int, int]:
    """The flat colour of fake image `idx`, so a test can tell which source a prepared image came from."""
    return (idx * 37 % 200 + 20, idx * 91 % 200 + 20, idx * 53 % 200 + 20)


def part_image(part: Part) -> Image.Image:
    """A white-on-black 512×512 part mask for a box, or the given array as an image."""
    if isinstance(part, np.ndarray):
        return Image.fromarray(part)
    top, bottom, left, right = part
    pixels = np.zeros((PART_SIZE, PART_SIZE), dtype=np.uint8)
    pixels[top:bottom, left:right] = 255
    return Image.fromarray(pixels)


def write_fake_download(
    root: Path,
    orig_idx: Mapping[int, int],
    parts: Mapping[int, Mapping[str, Part]] | None = None,
    image_size: int = 128,
) -> Path:
    """Write `root/CelebAMask-HQ/` with one flat-colour photo per id, the given parts, and the mapping file.

    Ids without an entry in `parts` get a skin box and a hair box.
    """
    raw = Path(root) / "CelebAMask-HQ"
    (raw / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    (raw / PART_DIR).mkdir(exist_ok=True)
    lines = ["idx orig_idx orig_file"]
    for idx in sorted(orig_idx):
        lines.append(f"{idx} {orig_idx[idx]} {orig_idx[idx] + 1:06d}.jpg")
        Image.new("RGB", (image_size, image_size), face_color(idx)).save(image_path(raw, idx), quality=95)
        id_parts = (parts or {}).get(idx, {"skin": (100, 400, 100, 400), "hair": (0, 150, 50, 450)})
        for name, part in id_parts.items():
            path = part_path(raw, idx, name)
            path.parent.mkdir(exist_ok=True)
            part_image(part).save(path)
    (raw / MAPPING_FILE).write_text("\n".join(lines) + "\n")
    return raw


def zip_folder(folder: Path, zip_path: Path) -> Path:
    """Zip `folder` with its own name as the top-level entry, as the official CelebAMask-HQ.zip is laid out."""
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder.parent).as_posix())
    return zip_path
