"""Export a trained model to ONNX (dynamic batch/height/width; classes, normalisation and input size in its metadata)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, metavar="RUN_DIR_OR_CKPT", help="a run dir (its best.pt, else last.pt) or a .pt file")
    parser.add_argument("out", type=Path, metavar="OUT.onnx", help="the ONNX file to write")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset version (default: the exporter's)")


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.models.checkpoint import resolve_checkpoint

    # The inputs first, so a wrong path is named whether or not the optional packages are installed.
    checkpoint = resolve_checkpoint(args.checkpoint)
    if args.out.suffix.lower() != ".onnx":
        raise ValueError(f"{args.out}: expected an output file name ending in .onnx")
    try:
        import onnx  # noqa: F401  (the export needs onnx and onnxscript, which are optional)
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ValueError(f"export needs the optional packages onnx and onnxscript ({err}); "
                         "install them with `pip install faceparse-lib[export]`") from err
    from faceparse_lib.models.checkpoint import load_checkpoint
    from faceparse_lib.models.export import export_onnx, read_onnx_metadata

    model = load_checkpoint(checkpoint, device="cpu")
    path = export_onnx(model, args.out, opset=args.opset)
    meta = read_onnx_metadata(path)
    size = f"{meta['input_size']}×{meta['input_size']}" if meta["input_size"] else "each image's own size"
    print(f"wrote {path} ({meta['model_name']}, {len(meta['class_names'])} classes in {meta['class_order']} order, "
          f"trained at {size}; inputs: RGB in [0, 1] normalised with ImageNet mean/std, N×3×H×W)")
    return 0
