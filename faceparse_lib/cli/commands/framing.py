"""Measure how a set's aligned faces are framed (crop side and centre against the face detector's box), for --faces."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_root", type=Path, metavar="DATA_ROOT", help="a prepared set (train/images/...)")
    parser.add_argument("--split", default="train", help="which split's images to measure (default: train)")
    parser.add_argument("--limit", type=int, default=200, metavar="N", help="measure the first N images (default: 200)")


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.data.faces import DEFAULT_FRAMING, measure_framing
    from faceparse_lib.data.layout import image_files, read_image

    if args.limit < 1:
        raise ValueError(f"--limit {args.limit}: expected at least 1 image")
    paths = list(image_files(args.data_root, args.split).values())[:args.limit]
    framing, found = measure_framing(read_image(path) for path in paths)  # one image in memory at a time
    print(f"{args.data_root} {args.split}: a face found in {found} of {len(paths)} images")
    print(f"framing: crop side {framing.scale:.3f} box sides, centre {framing.shift:+.3f} box sides below the box's "
          f"(the kit's default: {DEFAULT_FRAMING.scale:.3f}, {DEFAULT_FRAMING.shift:+.3f})")
    print(f"use it: parse_photo(model, photo, framing=Framing(scale={framing.scale:.3f}, shift={framing.shift:.3f}))")
    return 0
