"""Time the kit's hot paths against baselines measured in the same run and print speed-up ratios."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from faceparse_lib.bench import available_suites, run_suite


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suites", nargs="*", metavar="SUITE", help=f"suites to run (default: all of {', '.join(available_suites())})")
    parser.add_argument("--quick", action="store_true", help="smaller inputs and fewer repeats (a smoke run, not for quoting)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every row as JSON to FILE")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")


def run(args: argparse.Namespace) -> int:
    if args.list:
        print("\n".join(available_suites()))
        return 0
    unknown = [name for name in args.suites if name not in available_suites()]
    if unknown:
        raise ValueError(f"unknown benchmark suite {', '.join(unknown)}; choose from {', '.join(available_suites())}")
    rows = []
    for name in args.suites or available_suites():
        print(f"# suite: {name}", flush=True)
        for comparison in run_suite(name, quick=args.quick):
            print(comparison.format(), flush=True)
            rows += [{"suite": name, "title": comparison.title, **row} for row in comparison.rows()]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0
