"""Data-pipeline throughput: FaceParsingDataset with the report's augmentation against decoding alone.

Timed with one torch thread, as in a DataLoader worker (PyTorch gives each worker one thread), so the images/s
are per worker; torch is seeded before each pass so every case sees the same random draws.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch

from faceparse_lib.bench import Case, Comparison, compare
from faceparse_lib.data.dataset import FaceParsingDataset
from faceparse_lib.data.synthetic import make_synthetic_dataset
from faceparse_lib.data.transforms import train_transform


def read_all(dataset: FaceParsingDataset):
    """A callable that reads every item of `dataset` once, from the same torch seed."""

    def call() -> None:
        torch.manual_seed(0)
        for i in range(len(dataset)):
            dataset[i]

    return call


def run(quick: bool = False) -> list[Comparison]:
    n, size = (4, 128) if quick else (32, 512)
    tmp = Path(tempfile.mkdtemp(prefix="faceparse-bench-pipeline-"))
    threads = torch.get_num_threads()
    try:
        root = make_synthetic_dataset(tmp, n_train=n, n_val=0, size=size)

        def with_transform(**kwargs) -> FaceParsingDataset:
            return FaceParsingDataset(root, "train", transform=train_transform(crop_size=size, **kwargs))

        torch.set_num_threads(1)
        return [
            compare(
                f"data pipeline, {n} synthetic faces at {size}×{size}, one torch thread (one DataLoader worker)",
                baseline=Case("decode only", read_all(FaceParsingDataset(root, "train"))),
                cases=[
                    Case("report augmentation", read_all(with_transform()),
                         note="resize 0.5-2.0, cat-max crop, flip, photometric, normalise, pad"),
                    Case("report aug. without photometric", read_all(with_transform(photometric=False))),
                    Case("report aug. without resize", read_all(with_transform(ratio_range=None))),
                ],
                units=n,
                unit="images",
                repeats=1 if quick else 3,
            )
        ]
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(tmp, ignore_errors=True)
