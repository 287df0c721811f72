"""Renumber a folder of mask PNGs from one label order to another (e.g. face-parsing.pytorch -> the kit's)."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from faceparse_lib.classes import LABEL_ORDERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("in_dir", type=Path, metavar="IN_DIR", help="folder of mask PNGs (8-bit class indices)")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder for the converted masks (same names)")
    parser.add_argument("--from", dest="source", required=True, choices=tuple(LABEL_ORDERS),
                        help="label order of the input masks")
    parser.add_argument("--to", dest="target", default="celebamask", choices=tuple(LABEL_ORDERS),
                        help="label order to write (default: celebamask, the kit's)")


def convert_folder(in_dir: Path, out_dir: Path, source: str, target: str) -> list[Path]:
    """Remap every mask PNG of `in_dir` into `out_dir` as palette PNGs; all or nothing, errors name the file."""
    from faceparse_lib.classes import remap_labels
    from faceparse_lib.evaluation.masks import write_mask
    from faceparse_lib.data.layout import MASK_SUFFIX, files_by_stem, read_mask

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if out_dir.resolve() == in_dir.resolve():
        raise ValueError(f"{out_dir}: the output folder is the input folder; choose another one")
    masks = files_by_stem(in_dir, (MASK_SUFFIX,))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Everything is written into a scratch folder beside OUT_DIR first, so a bad file leaves OUT_DIR untouched.
    scratch = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    try:
        scratch.mkdir()
        for stem in sorted(masks):
            # read_mask refuses a file that is not 8-bit class indices in 0..18/255, naming it.
            write_mask(remap_labels(read_mask(masks[stem]), source, target), scratch / f"{stem}{MASK_SUFFIX}")
        if not out_dir.exists():
            os.replace(scratch, out_dir)
        else:
            for converted in scratch.iterdir():
                os.replace(converted, out_dir / converted.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [out_dir / f"{stem}{MASK_SUFFIX}" for stem in sorted(masks)]


def run(args: argparse.Namespace) -> int:
    written = convert_folder(args.in_dir, args.out_dir, args.source, args.target)
    print(f"wrote {len(written)} masks ({args.source} -> {args.target} order) to {args.out_dir}")
    return 0
