"""Write a synthetic face set in the course layout (a stand-in for CelebAMask-HQ)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from faceparse_lib.data.parallel import WORKERS_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="folder to write train/, val/ (and test/) into")
    parser.add_argument("--train", type=int, default=200, help="training images (default 200)")
    parser.add_argument("--val", type=int, default=50, help="validation images (default 50)")
    parser.add_argument("--test", type=int, default=0, help="test images, written without masks (default 0)")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels (default 512)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same set (default 0)")
    parser.add_argument("--workers", type=int, default=None, help=WORKERS_HELP)


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.data.synthetic import make_synthetic_dataset

    start = time.perf_counter()
    root = make_synthetic_dataset(
        args.out, args.train, args.val, size=args.size, seed=args.seed, n_test=args.test, workers=args.workers
    )
    total = args.train + args.val + args.test
    print(f"wrote {total} synthetic faces at {args.size}×{args.size} to {root} in {time.perf_counter() - start:.1f} s")
    return 0
