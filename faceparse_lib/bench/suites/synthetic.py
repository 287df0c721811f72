"""How long the synthetic face set takes to write: all cores vs one process vs the cost of saving alone."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from faceparse_lib.bench import Case, Comparison, compare
from faceparse_lib.data.synthetic import make_synthetic_dataset, synthetic_face


def run(quick: bool = False) -> list[Comparison]:
    n, size = (16, 128) if quick else (200, 512)
    tmp = Path(tempfile.mkdtemp(prefix="faceparse-bench-synth-"))
    try:
        faces = [synthetic_face((0, i), size) for i in range(n)]

        def save_only() -> None:
            for i, (image, mask) in enumerate(faces):
                image.save(tmp / f"{i}.jpg", quality=92)
                mask.save(tmp / f"{i}.png", compress_level=1)

        def write(workers: int | None) -> None:
            make_synthetic_dataset(tmp / "set", n_train=n, n_val=0, size=size, workers=workers)

        return [
            compare(
                f"synthetic faces, {n} at {size}×{size}",
                baseline=Case("one process", lambda: write(1)),
                cases=[
                    Case("all cores (default)", lambda: write(None)),
                    Case("save only, one process", save_only, note="floor: JPEG+PNG encoding of ready faces"),
                ],
                units=n,
                unit="faces",
                repeats=1 if quick else 3,
            )
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
