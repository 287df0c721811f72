"""Score a checkpoint on a split: the challenge F-score per image, mIoU, mean F1, per class; optionally with TTA."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from faceparse_lib.data.layout import SPLITS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, metavar="RUN_DIR_OR_CKPT", help="a run dir (its best.pt, else last.pt), a .pt file or an exported .onnx file")
    parser.add_argument("data_root", type=Path, metavar="DATA_ROOT", help="dataset root in the course layout")
    parser.add_argument("--split", default="val", choices=SPLITS, help="split to score (default: val)")
    parser.add_argument("--tta", choices=("flip",), default=None, help="average with the mirrored image (left/right classes swapped back)")
    parser.add_argument("--scales", type=float, nargs="+", metavar="S", default=None,
                        help="multi-scale factors relative to the model's input size, e.g. 0.75 1 1.25")
    parser.add_argument("--input-size", type=int, default=None, metavar="PX",
                        help="run the model at PX×PX (default: the size it was trained at; 0 = each image's own size)")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass (default: 4)")
    parser.add_argument("--workers", type=int, default=2, help="data-loading worker processes (default: 2)")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="where to write the CSV/JSON (default: beside the checkpoint)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def default_device() -> str:
    """cuda when a GPU is visible, else cpu."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def result_stem(split: str, tta: str | None, scales: list[float] | None) -> str:
    """eval_<split>[_flip][_ms]: one file pair per way of scoring, so a TTA run does not overwrite the plain one."""
    return f"eval_{split}" + (f"_{tta}" if tta else "") + ("_ms" if scales else "")


def matrix_classes(model: Any) -> int:
    """The class count a model predicts (its saved config's, else the kit's 19)."""
    from faceparse_lib.classes import NUM_CLASSES

    return int((getattr(model, "train_config", None) or {}).get("num_classes", NUM_CLASSES))


def image_names(dataset: Any) -> list[str]:
    """The stem of every image of a FaceParsingDataset, in order."""
    return [image.stem for image, _ in dataset.pairs]


def _number(value: float) -> float | None:
    """A float for JSON, None for NaN (an undefined score)."""
    return None if math.isnan(value) else float(value)


def scored_dataset(checkpoint: Path, data_root: Path, split: str) -> tuple[Any, str | None]:
    """The split to score, or, when val has no masks (the challenge's hand-out), the run's holdout, with a note."""
    from faceparse_lib.data.dataset import FaceParsingDataset
    from faceparse_lib.data.layout import DatasetError, masks_dir
    from faceparse_lib.training.run_files import HOLDOUT_FILE, validation_pairs

    if split != "val" or masks_dir(data_root, split).is_dir():
        return FaceParsingDataset(data_root, split), None
    run_dir = checkpoint.parent
    if not (run_dir / HOLDOUT_FILE).is_file():
        raise DatasetError(f"{masks_dir(data_root, split)}: folder not found, and {run_dir} held out no training images "
                           f"({HOLDOUT_FILE}; a final fit trains on all of them): nothing with masks to score on")
    pairs = validation_pairs(run_dir, data_root)
    return FaceParsingDataset.from_pairs(pairs), (
        f"{data_root}/val has no masks (the challenge scores them on its leaderboard): scoring the {len(pairs)} "
        f"training images {run_dir.name} held out ({HOLDOUT_FILE})")


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.models.checkpoint import resolve_checkpoint
    from faceparse_lib.data.rules import METRIC_TITLES, rule_set, score_headline
    from faceparse_lib.evaluation.fscore import FScore
    from faceparse_lib.evaluation.scoring import evaluate
    from faceparse_lib.models.export import load_model

    checkpoint = resolve_checkpoint(args.checkpoint)
    model = load_model(checkpoint, device=args.device or default_device())
    if args.input_size is not None:
        model.input_size = args.input_size or None
    dataset, note = scored_dataset(checkpoint, args.data_root, args.split)
    if note:
        print(note)
    fscore = FScore(matrix_classes(model))
    matrix = evaluate(model, dataset, tta=args.tta, scales=args.scales, batch_size=args.batch_size,
                      workers=args.workers, progress=not args.no_progress, fscore=fscore)
    rules = rule_set((getattr(model, "train_config", None) or {}).get("rules", "seed"))
    table = matrix.table()
    table.insert(0, "F-score", fscore.per_class())
    how = ", ".join(filter(None, [f"tta {args.tta}" if args.tta else "", f"scales {args.scales}" if args.scales else ""]))
    print(f"{checkpoint} on {args.data_root} {args.split} ({len(dataset)} images, input size {model.input_size or 'own'}"
          + (f", {how}" if how else "") + ")")
    print(table[["F-score", "IoU", "F1", "precision", "recall"]].rename_axis(None).to_string(
        float_format=lambda v: f"{v:.4f}", na_rep="-"))
    print(score_headline({"fscore": fscore.mean(), "miou": matrix.miou()}, rules.metric)
          + f"   mean F1 (no background) {matrix.mean_f1():.4f}   pixel accuracy {matrix.pixel_accuracy():.4f}"
          + f"   ({rules.title} rules rank by {METRIC_TITLES[rules.metric]})")

    out_dir = args.out or checkpoint.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = result_stem(args.split, args.tta, args.scales)
    table.to_csv(out_dir / f"{stem}.csv", float_format="%.6f")
    record: dict[str, Any] = {
        "checkpoint": str(checkpoint), "checkpoint_iteration": getattr(model, "checkpoint_iteration", None),
        "data_root": str(args.data_root), "split": args.split if note is None else "holdout", "images": len(dataset),
        "tta": args.tta, "scales": args.scales, "input_size": model.input_size,
        "rules": rules.name, "fscore": _number(fscore.mean()),
        "image_fscores": {name: _number(v) for name, v in zip(image_names(dataset), fscore.scores)},
        "miou": _number(matrix.miou()), "mean_f1": _number(matrix.mean_f1()),
        "pixel_accuracy": _number(matrix.pixel_accuracy()),
        "per_class": {name: {column: _number(row[column]) for column in ("F-score", "IoU", "F1", "precision", "recall")}
                      for name, row in table.iterrows()},
        "confusion": matrix.state_dict(),
    }
    (out_dir / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out_dir / stem}.csv and .json")
    return 0
