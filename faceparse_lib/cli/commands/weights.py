"""Count the pixels of each class in a split's masks and derive class weights for the loss."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from faceparse_lib.data.layout import SPLITS, list_pairs, masks_dir
from faceparse_lib.data.parallel import WORKERS_HELP
from faceparse_lib.data.stats import (
    MISSING_POLICIES,
    WEIGHT_METHODS,
    class_weights,
    count_pixels,
    weights_record,
)

COLUMN_FORMATS = {"share": "{:.4%}".format, "image_share": "{:.1%}".format, "weight": "{:.4f}".format}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, help="dataset root in the course layout, or a folder of mask PNGs")
    parser.add_argument("--split", default="train", choices=SPLITS, help="split to count (default: train)")
    parser.add_argument(
        "--method",
        default="log2",
        choices=list(WEIGHT_METHODS),
        help="; ".join(f"{name}: {doc}" for name, (_, doc) in WEIGHT_METHODS.items()),
    )
    parser.add_argument(
        "--missing", default="max", choices=MISSING_POLICIES, help="weight of a class with no pixels (default: max)"
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="write counts, images per class and weights as JSON")
    parser.add_argument("--workers", type=int, help=WORKERS_HELP)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    is_course_layout = masks_dir(args.root, args.split).is_dir()
    # A split counts the masks it would train on (every image paired); a plain folder counts every mask in it.
    source = [mask for _, mask in list_pairs(args.root, args.split)] if is_course_layout else args.root
    counts = count_pixels(source, workers=args.workers, progress=not args.no_progress)
    weights = class_weights(counts, args.method, missing=args.missing)
    table = counts.to_frame()
    table["weight"] = weights.numpy()
    where = f"{args.root} ({args.split})" if is_course_layout else str(args.root)
    print(f"{where}: {counts.n_images} masks, {counts.total:,} labelled pixels, {counts.ignored:,} ignored")
    print(f"weights: {args.method} = {WEIGHT_METHODS[args.method][1]}")
    print(table.to_string(formatters=COLUMN_FORMATS))
    if args.out:
        record = weights_record(counts, weights.tolist(), args.method, args.missing)
        record.update(root=str(args.root), split=args.split if is_course_layout else None)
        args.out.write_text(json.dumps(record, indent=2))
        print(f"wrote {args.out}")
    return 0
