"""Check a dataset in the course layout: counts, sizes, label histogram and every problem found."""

from __future__ import annotations

import argparse
from pathlib import Path

from faceparse_lib.data.layout import SPLITS, DatasetError, first_problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, help="dataset root holding train/, val/ and/or test/")
    parser.add_argument("--split", action="append", choices=SPLITS, help="check only this split (repeatable)")
    parser.add_argument("--rules", choices=("seed", "challenge"), default="seed",
                        help="the course edition's rules: challenge hands out val images without masks")
    parser.add_argument("--relabel-into", type=Path, default=None, metavar="DIR",
                        help="write a corrected copy of ROOT into DIR: masks with left and right swapped relabelled")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.data.check import check_dataset

    report = check_dataset(args.root, tuple(args.split) if args.split else None, progress=not args.no_progress,
                           rules=args.rules)
    print(report.format())
    if args.relabel_into is not None:
        from faceparse_lib.data.relabel import relabel_swapped

        fixed = relabel_swapped(args.root, report.swapped, args.relabel_into)
        print(f"wrote {fixed}: {len(report.swapped)} mask(s) relabelled, every other file linked")
    if not report.ok:
        raise DatasetError(first_problem(report.problems))
    return 0
