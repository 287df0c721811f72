"""count_pixels against a per-class loop and against only decoding the mask PNGs (the floor)."""

from __future__ import annotations

import math
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from faceparse_lib.bench import Case, Comparison, compare
from faceparse_lib.classes import NUM_CLASSES
from faceparse_lib.data.layout import read_mask
from faceparse_lib.data.synthetic import synthetic_face
from faceparse_lib.data.parallel import default_workers
from faceparse_lib.data.stats import count_pixels


def write_masks(folder: Path, n: int, size: int = 512) -> list[Path]:
    """`n` synthetic face masks as PNGs, written the way the course masks are (8-bit, one channel)."""
    paths = []
    for i in range(n):
        path = folder / f"{i:05d}.png"
        synthetic_face(i, size)[1].save(path)
        paths.append(path)
    return paths


def per_class_loop(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """The loop a student writes first: read each mask, compare it with every class in turn."""
    pixels = np.zeros(NUM_CLASSES, dtype=np.int64)
    images = np.zeros(NUM_CLASSES, dtype=np.int64)
    for path in paths:
        mask = read_mask(path)
        for c in range(NUM_CLASSES):
            n = int((mask == c).sum())
            pixels[c] += n
            images[c] += n > 0
    return pixels, images


def _decode(paths: list[Path]) -> None:
    for path in paths:
        Image.open(path).load()


def decode_only(paths: list[Path], workers: int) -> None:
    """Only decode every PNG, split over `workers` processes in chunks as count_pixels does: the floor."""
    if workers == 1:
        return _decode(paths)
    size = max(1, min(64, math.ceil(len(paths) / (4 * workers))))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_decode, [paths[i : i + size] for i in range(0, len(paths), size)]))


def run(quick: bool) -> list[Comparison]:
    """Time the per-class loop, decode-only and count_pixels on synthetic 512×512 masks written to a temp dir."""
    n = 32 if quick else 600
    workers = default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_masks(Path(tmp), n)
        cases = [
            Case("decode only, 1 process", lambda: decode_only(paths, 1), note="floor"),
            Case("count_pixels, 1 process", lambda: count_pixels(paths, workers=1)),
        ]
        if workers > 1:
            cases += [
                Case(f"decode only, {workers} processes", lambda: decode_only(paths, workers), note="floor"),
                Case(f"count_pixels, {workers} processes", lambda: count_pixels(paths, workers=workers)),
            ]
        baseline = Case("per-class loop, 1 process", lambda: per_class_loop(paths))
        result = compare(
            f"per-class pixel counts of {n} 512x512 masks",
            baseline=baseline,
            cases=cases,
            units=n,
            unit="masks",
            repeats=3 if quick else 5,
        )
    for floor, counted in zip(cases[::2], cases[1::2]):
        overhead = result.seconds[counted.name] / result.seconds[floor.name]
        result.notes[counted.name] = f"{overhead:.2f}x the decode-only time (aim <= 1.3x)"
    return [result]
