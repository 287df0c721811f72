"""Check a dataset in the course layout: counts, sizes, label histogram and every problem found."""

from __future__ import annotations

import argparse
from pathlib import Path

from faceparse_lib.data import SPLITS, check_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, help="dataset root holding train/, val/ and/or test/")
    parser.add_argument("--split", action="append", choices=SPLITS, help="check only this split (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    report = check_dataset(args.root, tuple(args.split) if args.split else None, progress=not args.no_progress)
    print(report.format())
    return 0 if report.ok else 1
