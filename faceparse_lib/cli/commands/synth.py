"""Write a synthetic face set in the course layout (a stand-in for CelebAMask-HQ)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from faceparse_lib.data.parallel import WORKERS_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="folder to write train/, val/ (and test/) into (--handout: the zips)")
    parser.add_argument("--handout", action="store_true",
                        help="write the challenge's hand-out instead: train.zip, val.zip (no masks), test.zip, hex "
                             "stems, palette masks, a few masks with left and right swapped")
    parser.add_argument("--swapped", type=int, default=None, metavar="N",
                        help="--handout: training masks with left and right swapped on purpose (default 3)")
    parser.add_argument("--train", type=int, default=200, help="training images (default 200)")
    parser.add_argument("--val", type=int, default=50, help="validation images (default 50)")
    parser.add_argument("--test", type=int, default=0, help="test images, written without masks (default 0)")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels (default 512)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same set (default 0)")
    parser.add_argument("--workers", type=int, default=None, help=WORKERS_HELP)


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.data.synthetic import HANDOUT_SWAPPED, make_synthetic_dataset, make_synthetic_handout

    start = time.perf_counter()
    if args.handout:
        zips = make_synthetic_handout(args.out, args.train, args.val, args.test, size=args.size, seed=args.seed,
                                      swapped=HANDOUT_SWAPPED if args.swapped is None else args.swapped,
                                      workers=args.workers)
        print(f"wrote the synthetic hand-out {', '.join(str(p) for p in zips.values())} in "
              f"{time.perf_counter() - start:.1f} s")
        return 0
    root = make_synthetic_dataset(
        args.out, args.train, args.val, size=args.size, seed=args.seed, n_test=args.test, workers=args.workers
    )
    total = args.train + args.val + args.test
    print(f"wrote {total} synthetic faces at {args.size}×{args.size} to {root} in {time.perf_counter() - start:.1f} s")
    return 0
