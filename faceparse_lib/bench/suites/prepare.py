"""prepare_celebamask against the plain official procedure and against only decoding the part PNGs."""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from faceparse_lib.bench import Case, Comparison, compare
from faceparse_lib.data.parallel import default_workers
from faceparse_lib.data.celebamask import IMAGE_DIR, MAPPING_FILE, PAINT_ORDER, PART_SIZE, image_path, part_path
from faceparse_lib.data.prepare import prepare_celebamask

# Part boxes (top, bottom, left, right) on the 512×512 mask grid; a typical face has about a dozen parts.
_PARTS = {
    "skin": (90, 430, 120, 392), "nose": (220, 320, 225, 287), "l_eye": (200, 226, 170, 236),
    "r_eye": (200, 226, 276, 342), "l_brow": (175, 190, 160, 240), "r_brow": (175, 190, 272, 352),
    "l_ear": (210, 300, 100, 130), "r_ear": (210, 300, 382, 412), "mouth": (340, 360, 210, 302),
    "u_lip": (330, 345, 205, 307), "l_lip": (355, 375, 205, 307), "hair": (10, 200, 80, 432),
    "neck": (400, 480, 180, 332), "cloth": (460, 512, 40, 472),
}


def _fake_face(rng: np.random.Generator) -> Image.Image:
    """A 1024×1024 photo-like picture: smooth shading, a few shapes and sensor noise."""
    y, x = np.mgrid[0:1024, 0:1024].astype(np.float32) / 1024
    base = rng.uniform(60, 200, 3)
    pixels = base + 50 * np.stack([x, y, x * y], -1) + rng.normal(0, 3, (1024, 1024, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.integers(0, 800, 2)
        draw.ellipse((x0, y0, x0 + rng.integers(80, 300), y0 + rng.integers(80, 300)), fill=tuple(rng.integers(0, 255, 3)))
    return image


def make_fake_download(root: Path, n: int, seed: int = 0) -> Path:
    """Write `n` CelebAMask-HQ-shaped samples (1024 px JPEG, ~14 ellipse parts at 512 px) under `root`."""
    rng = np.random.default_rng(seed)
    (root / IMAGE_DIR).mkdir(parents=True)
    for idx in range(n):
        _fake_face(rng).save(image_path(root, idx), quality=95)
        for part, (top, bottom, left, right) in _PARTS.items():
            dx, dy = rng.integers(-8, 9, 2)  # faces differ a little in place
            mask = Image.new("L", (PART_SIZE, PART_SIZE), 0)
            ImageDraw.Draw(mask).ellipse((left + dx, top + dy, right + dx, bottom + dy), fill=255)
            path = part_path(root, idx, part)
            path.parent.mkdir(parents=True, exist_ok=True)
            mask.save(path)
    (root / MAPPING_FILE).write_text("idx orig_idx orig_file\n" + "".join(f"{i} {i} {i + 1:06d}.jpg\n" for i in range(n)))
    return root


def official_procedure(raw: Path, out: Path, n: int, size: int = 512) -> None:
    """The straightforward version: one process; per image, try every part file, paint it, save; resize the photo."""
    (out / "images").mkdir(parents=True)
    (out / "masks").mkdir()
    for idx in range(n):
        labels = np.zeros((PART_SIZE, PART_SIZE), dtype=np.uint8)
        for value, part in enumerate(PAINT_ORDER, start=1):
            path = part_path(raw, idx, part)
            if os.path.exists(path):
                pixels = np.array(Image.open(path))
                if pixels.ndim == 3:
                    pixels = pixels[:, :, 0]
                labels[pixels != 0] = value
        Image.fromarray(labels).resize((size, size), Image.Resampling.NEAREST).save(out / "masks" / f"{idx:05d}.png")
        photo = Image.open(image_path(raw, idx)).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
        photo.save(out / "images" / f"{idx:05d}.jpg", quality=95)


def decode_parts_only(raw: Path, n: int) -> None:
    """The floor: decode every part PNG that exists, and nothing else."""
    for idx in range(n):
        for part in PAINT_ORDER:
            path = part_path(raw, idx, part)
            if os.path.exists(path):
                with Image.open(path) as image:
                    image.load()


def run(quick: bool) -> list[Comparison]:
    n = 12 if quick else 160
    cores = default_workers()
    with tempfile.TemporaryDirectory(prefix="bench_prepare_") as tmp:
        raw = make_fake_download(Path(tmp) / "CelebAMask-HQ", n)
        runs = itertools.count()

        def fresh() -> Path:  # every timed call writes into an empty folder, so nothing is skipped
            return Path(tmp) / f"out{next(runs)}"

        mean_kb = sum(p.stat().st_size for p in (raw / IMAGE_DIR).iterdir()) / n / 1024
        result = compare(
            f"prepare CelebAMask-HQ: {n} faces (1024 px JPEG ~{mean_kb:.0f} kB, {len(_PARTS)} part PNGs each) -> 512 px",
            baseline=Case("official procedure, 1 process", lambda: official_procedure(raw, fresh(), n)),
            cases=[
                Case("prepare_celebamask, 1 process", lambda: prepare_celebamask(raw, fresh(), workers=0)),
                Case(f"prepare_celebamask, {cores} processes", lambda: prepare_celebamask(raw, fresh(), workers=cores)),
                Case("floor: decode part PNGs only, 1 process", lambda: decode_parts_only(raw, n)),
            ],
            units=n,
            unit="img",
            repeats=1 if quick else 3,
            warmup=0 if quick else 1,
        )
    floor = result.seconds["floor: decode part PNGs only, 1 process"]
    serial = result.seconds["prepare_celebamask, 1 process"]
    result.notes["prepare_celebamask, 1 process"] = f"{serial / floor:.2f}x the decode-only floor's time"
    result.notes["floor: decode part PNGs only, 1 process"] = "not a way to prepare: the least any 1-process version must spend"
    return [result]
