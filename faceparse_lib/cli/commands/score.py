"""Score a folder of predicted masks against true masks by stem: F-score, mIoU, mean F1, per class, worst images."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pred_dir", type=Path, metavar="PRED_DIR", help="predicted masks, STEM.png, 8-bit class indices")
    parser.add_argument("true_dir", type=Path, metavar="TRUE_DIR", help="true masks, STEM.png")
    parser.add_argument("--worst", type=int, default=10, metavar="N", help="list the N images with the lowest F-score")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from faceparse_lib.classes import CLASSES
    from faceparse_lib.evaluation.folders import score_folders

    result = score_folders(args.pred_dir, args.true_dir, progress=not args.no_progress)
    scored = len(result.stems)
    print(f"{args.pred_dir} against {args.true_dir}: {scored} of {result.expected} images scored")
    if not scored:
        print(f"F-score (per image, the challenge's, as the leaderboard counts it) {result.leaderboard_fscore():.4f}: "
              "no prediction could be scored")
    if scored:
        table = result.matrix.table()[["IoU", "F1"]]
        table.insert(0, "F-score", result.per_class_fscore())
        table.index = pd.Index(CLASSES, name="class")
        print(table.to_string(float_format=lambda v: f"{v:.4f}", na_rep="-"))
        readable = (f" (readable predictions alone: {result.fscore.mean():.4f}; {len(result.unscored)} scored 0)"
                    if result.unscored else "")
        print(f"F-score (per image, the challenge's, as the leaderboard counts it) {result.leaderboard_fscore():.4f}"
              f"{readable}   mIoU {result.matrix.miou():.4f}   mean F1 (no background) {result.matrix.mean_f1():.4f}")
        print("worst images: " + ", ".join(f"{stem} {score:.4f}" for stem, score in result.worst(args.worst)))
    for problem in result.problems:
        print(f"problem: {problem}")
    if result.problems:
        raise ValueError(f"{len(result.problems)} problem(s) in {args.pred_dir}; the first: {result.problems[0]}")
    return 0
