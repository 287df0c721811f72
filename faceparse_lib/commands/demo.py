"""Run the kit end to end on a freshly generated synthetic face set (what `make demo` runs)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from faceparse_lib.data import check_dataset
from faceparse_lib.synthetic import make_synthetic_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo"), help="folder for the demo's data and outputs")
    parser.add_argument("--train", type=int, default=64, help="synthetic training images (default 64)")
    parser.add_argument("--val", type=int, default=16, help="synthetic validation images (default 16)")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    parser.add_argument("--seed", type=int, default=0)


def _step(title: str) -> float:
    print(f"\n=== {title}", flush=True)
    return time.perf_counter()


def run(args: argparse.Namespace) -> int:
    data = args.out / "data"
    start = _step(f"1. synthetic faces -> {data}")
    make_synthetic_dataset(data, args.train, args.val, size=args.size, seed=args.seed)
    print(f"wrote {args.train} train + {args.val} val faces at {args.size}px in {time.perf_counter() - start:.1f} s")

    _step("2. check the dataset")
    report = check_dataset(data)
    print(report.format())
    if not report.ok:
        return 1
    print(f"\ndemo finished: outputs in {args.out}")
    return 0
