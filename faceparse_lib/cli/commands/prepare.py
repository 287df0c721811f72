"""Turn the official CelebAMask-HQ download (folder or zip) into the course layout with the official split."""

from __future__ import annotations

import argparse
from pathlib import Path

from faceparse_lib.data.celebamask import OFFICIAL_COUNTS
from faceparse_lib.data.layout import IMAGE_SIZE, SPLITS
from faceparse_lib.data.parallel import WORKERS_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("raw", type=Path, metavar="RAW",
                        help="the unpacked CelebAMask-HQ folder, CelebAMask-HQ.zip, or a folder holding the zip")
    parser.add_argument("out", type=Path, metavar="OUT", help="output folder (course layout: train/ val/ test/)")
    parser.add_argument("--workers", type=int, default=None, help=WORKERS_HELP)
    parser.add_argument("--size", type=int, default=IMAGE_SIZE, help=f"output side in pixels (default {IMAGE_SIZE})")
    for split in SPLITS:
        parser.add_argument(f"--subset-{split}", type=int, default=None, metavar="N",
                            help=f"a fixed random N of the {OFFICIAL_COUNTS[split]:,} {split} images")
    parser.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS), help="splits to write (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subsets (default 0)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where a zip is unpacked (default: CelebAMask-HQ-download/ beside OUT)")
    parser.add_argument("--download", action="store_true",
                        help="if no zip is found, try the authors' Google Drive (needs gdown)")
    parser.add_argument("--password", default=None, help="zip password, if your copy has one")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.data.download import prepare_from_source

    root, summary = prepare_from_source(
        args.raw, args.out, work_dir=args.work_dir, download=args.download, password=args.password,
        progress=not args.no_progress, workers=args.workers, size=args.size, splits=args.splits, seed=args.seed,
        subset={split: getattr(args, f"subset_{split}") for split in SPLITS},
    )
    print(summary.format() if summary is not None else f"{root} is already in the course layout; nothing to prepare")
    return 0
