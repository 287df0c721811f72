"""Scoring a folder of predicted masks against a folder of true masks, matched by stem: what a TA runs on hand-ins.

Any tool's masks can be scored: single-channel (or palette) 8-bit PNGs of class indices in the kit's order. An RGB,
16-bit, missing, extra or wrongly sized prediction is reported by file and left out of the scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceparse_lib.data.layout import MASK_SUFFIX, DatasetError, files_by_stem, read_mask
from faceparse_lib.evaluation.fscore import FScore
from faceparse_lib.evaluation.metrics import ConfusionMatrix


@dataclass
class FolderScores:
    """The scores of the predictions that could be read, which images they cover, and every problem by file."""

    matrix: ConfusionMatrix
    fscore: FScore
    stems: list[str] = field(default_factory=list)  # the scored images, in the order of fscore.scores
    problems: list[str] = field(default_factory=list)
    expected: int = 0  # true masks found

    def worst(self, count: int = 10) -> list[tuple[str, float]]:
        """The `count` images with the lowest F-score, lowest first."""
        scores = self.fscore.scores
        order = np.argsort(np.nan_to_num(scores, nan=np.inf), kind="stable")[:count]
        return [(self.stems[i], float(scores[i])) for i in order]


def score_folders(pred_dir: str | Path, true_dir: str | Path, progress: bool = False) -> FolderScores:
    """Score every PRED_DIR/STEM.png against TRUE_DIR/STEM.png: the F-score per image, mIoU and F1 over the set."""
    from tqdm.auto import tqdm

    pred_dir, true_dir = Path(pred_dir), Path(true_dir)
    for folder in (pred_dir, true_dir):
        if not folder.is_dir():
            raise DatasetError(f"{folder}: folder not found")
    truths = files_by_stem(true_dir, (MASK_SUFFIX,))
    if not truths:
        raise DatasetError(f"{true_dir}: no {MASK_SUFFIX} masks; expected the true masks, one per image")
    preds = files_by_stem(pred_dir, (MASK_SUFFIX,))
    result = FolderScores(ConfusionMatrix(), FScore(), expected=len(truths))
    result.problems += [f"{pred_dir / (stem + MASK_SUFFIX)}: missing; expected a prediction for {truths[stem].name}"
                        for stem in sorted(truths.keys() - preds.keys())]
    result.problems += [f"{preds[stem]}: no true mask {stem}{MASK_SUFFIX} in {true_dir}; a name that does not match?"
                        for stem in sorted(preds.keys() - truths.keys())]
    for stem in tqdm(sorted(truths.keys() & preds.keys()), desc="score", unit="mask", disable=not progress):
        try:
            truth, pred = read_mask(truths[stem]), read_mask(preds[stem])
        except DatasetError as err:
            result.problems.append(str(err))
            continue
        if pred.shape != truth.shape:
            result.problems.append(f"{preds[stem]}: {pred.shape[1]}×{pred.shape[0]}; expected the true mask's "
                                   f"{truth.shape[1]}×{truth.shape[0]}")
            continue
        if (pred == 255).any():
            result.problems.append(f"{preds[stem]}: holds 255 (ignore); a prediction must name a class for every pixel")
            continue
        result.matrix.update(pred[None], truth[None])
        result.fscore.update(pred[None], truth[None])
        result.stems.append(stem)
    return result
