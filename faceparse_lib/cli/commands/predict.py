"""Predict a mask for every image in a folder (palette PNGs at each image's size, same stem), ready to hand in.

With --faces the images are arbitrary photos: each face is found, framed as the training faces are, parsed and
pasted back at the photo's size; overlays then show the face boxes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from faceparse_lib.classes import LABEL_ORDERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, metavar="RUN_DIR_OR_CKPT", help="a run dir (its best.pt, else last.pt), a .pt file or an exported .onnx file")
    parser.add_argument("in_dir", type=Path, metavar="IN_DIR", help="folder of .jpg/.png face images")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder for the masks (STEM.png)")
    parser.add_argument("--tta", choices=("flip",), default=None, help="average with the mirrored image (left/right classes swapped back)")
    parser.add_argument("--scales", type=float, nargs="+", metavar="S", default=None,
                        help="multi-scale factors relative to the model's input size, e.g. 0.75 1 1.25")
    parser.add_argument("--input-size", type=int, default=None, metavar="PX",
                        help="run the model at PX×PX (default: the size it was trained at; 0 = each image's own size)")
    parser.add_argument("--overlays", type=Path, default=None, metavar="DIR", help="also write colour overlays here")
    parser.add_argument("--zip", type=Path, default=None, metavar="FILE", help="pack the masks into this zip as masks/STEM.png, the challenge's "
                             "development-phase hand-in (--zip-flat: STEM.png at the top, the 2022 edition's)")
    parser.add_argument("--zip-flat", action="store_true", help="with --zip: the masks at the zip's top, no masks/")
    parser.add_argument("--label-order", choices=tuple(LABEL_ORDERS), default="celebamask",
                        help="class numbering of the written masks (default: celebamask, the kit's; "
                             "face-parsing.pytorch for tools built on that code, farl for FaRL/facer/SegFace)")
    parser.add_argument("--faces", action="store_true",
                        help="the images are ordinary photos: find each face, frame it like CelebA-HQ, parse it and paste it back")
    parser.add_argument("--whole-image", action="store_true",
                        help="with --faces: parse a photo where no face is found as a whole (as if it were aligned)")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass (default: 4; --faces parses one crop at a time)")
    parser.add_argument("--workers", type=int, default=2, help="image-decoding worker processes (default: 2; not used with --faces)")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.cli.commands.evaluate import default_device
    from faceparse_lib.evaluation.masks import predict_folder
    from faceparse_lib.models.export import load_model

    if args.whole_image and not args.faces:
        raise ValueError("--whole-image goes with --faces (without --faces every image is parsed whole already)")
    if args.faces and args.scales:
        raise ValueError("--faces parses each face crop at the model's input size; --scales does not apply")
    model = load_model(args.checkpoint, device=args.device or default_device())
    if args.input_size is not None:
        model.input_size = args.input_size or None
    if args.faces:
        return _run_on_photos(model, args)
    summary = predict_folder(model, args.in_dir, args.out_dir, tta=args.tta, scales=args.scales,
                             overlay_dir=args.overlays, batch_size=args.batch_size, workers=args.workers,
                             progress=not args.no_progress, label_order=args.label_order)
    return _report(summary, args, overlays="overlays", failed="input(s) not predicted")


def _run_on_photos(model, args: argparse.Namespace) -> int:
    """predict --faces: one mask per photo at its own size, faces found and framed; photos without a face listed."""
    from faceparse_lib.evaluation.photos import predict_photos

    summary = predict_photos(model, args.in_dir, args.out_dir, overlay_dir=args.overlays, tta=args.tta,
                             whole_image=args.whole_image, label_order=args.label_order, progress=not args.no_progress)
    for name, count in summary.faces.items():
        print(f"{name}: {count} face{'s' if count != 1 else ''}" if count else f"{name}: no face, parsed whole")
    return _report(summary, args, overlays="overlays (face boxes drawn)", failed="photo(s) not parsed")


def _report(summary, args: argparse.Namespace, overlays: str, failed: str) -> int:
    """Say what was written, pack the zip if asked, list each input that failed; the exit code."""
    from faceparse_lib.evaluation.masks import MASKS_FOLDER, zip_masks

    print(f"wrote {len(summary.masks)} masks to {args.out_dir}"
          + (f" and {len(summary.overlays)} {overlays} to {args.overlays}" if args.overlays else ""))
    if args.zip is not None:
        zip_masks(summary.masks, args.zip, folder="" if args.zip_flat else MASKS_FOLDER)
        print(f"packed {len(summary.masks)} masks into {args.zip}")
    for _, reason in summary.failed:
        print(f"error: {reason}", file=sys.stderr)
    if summary.failed:
        print(f"error: {len(summary.failed)} {failed} (listed above)", file=sys.stderr)
        return 1
    return 0
