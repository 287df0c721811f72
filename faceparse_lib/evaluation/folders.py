"""Scoring a folder of predicted masks against a folder of true masks, matched by stem: what a TA runs on hand-ins.

Any tool's masks can be scored: single-channel (or palette) PNGs of class indices in the kit's order, read as the
course's scorer reads them (`convert("P")`). A missing, undecodable, colour or wrongly sized prediction is reported by
file and counts as an image scoring 0 in the leaderboard's number (`leaderboard_fscore`), as the leaderboard would
count it; the mean over the readable predictions stands beside it. A label that names no class (19..255) counts
against the true class in the F-score, as the course's metric counts it; the dataset-level mIoU and F1 leave it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceparse_lib.classes import CLASSES, NUM_CLASSES
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
    unscored: list[str] = field(default_factory=list)  # true masks with no readable prediction of the right size

    def leaderboard_fscore(self) -> float:
        """The leaderboard's number: the mean F-score over every true mask, an unscored prediction counting 0."""
        scores = self.fscore.scores
        counted = np.isfinite(scores)
        total = int(counted.sum()) + len(self.unscored)
        return float(scores[counted].sum() / total) if total else float("nan")

    def per_class_fscore(self) -> np.ndarray:
        """Each class's mean F over the scored images whose truth holds it (the 19 classes)."""
        return self.fscore.per_class()[:NUM_CLASSES]

    def worst(self, count: int = 10) -> list[tuple[str, float]]:
        """The `count` images with the lowest F-score, lowest first (the unscored ones, 0, before them all)."""
        scores = self.fscore.scores
        order = np.argsort(np.nan_to_num(scores, nan=np.inf), kind="stable")
        ranked = [(stem, 0.0) for stem in self.unscored] + [(self.stems[i], float(scores[i])) for i in order]
        return ranked[:count]


INDEX_MODES = ("L", "P", "I;16", "I;16B", "I")  # one channel of stored values, which convert("P") keeps up to 255
WIDE_MODES = {"I;16": 16, "I;16B": 16, "I": 32}


def read_like_the_grader(source: Path | bytes, name: str | Path | None = None,
                         warnings: list[str] | None = None) -> np.ndarray:
    """A predicted mask (a file, or its bytes named `name`) read as the course's scorer reads it,
    `np.array(Image.open(p).convert("P"))`: the one reader of predictions, for `score` and the zip checker.

    Colour masks, which that call would quantise into nonsense, and files that do not decode raise DatasetError;
    a 16- or 32-bit mask is read, and added to `warnings` when given (the course asks for 8-bit).
    """
    import io

    from PIL import Image, UnidentifiedImageError

    name = name if name is not None else source
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as picture:
            if picture.mode not in INDEX_MODES:
                kind = {"RGB": "an RGB", "RGBA": "an RGBA", "LA": "a grey+alpha"}.get(picture.mode, f"a {picture.mode}")
                raise DatasetError(f"{name}: {kind} image; the scorer reads it with convert('P'), which turns colours "
                                   "into nonsense: write one channel of class indices")
            if picture.mode in WIDE_MODES:
                top = int(np.asarray(picture).max(initial=0))
                if top > 255:  # convert("P") would clip it to 255 and hide the value
                    raise DatasetError(f"{name}: a {WIDE_MODES[picture.mode]}-bit mask holding values up to {top}; "
                                       f"expected class indices 0..{NUM_CLASSES - 1} (convert('P') clips them to 255)")
                if warnings is not None:
                    warnings.append(f"{name}: a {WIDE_MODES[picture.mode]}-bit PNG; the course asks for 8-bit "
                                    "(today's Pillow reads its class indices with convert('P'), an older one may not)")
            return np.array(picture.convert("P"))
    except DatasetError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DatasetError(f"{name}: unreadable ({err})") from err


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
    # One more column than classes: a predicted label that names no class (255, or 19..254) is wrong wherever it
    # stands, as the course's metric counts it.
    no_class = NUM_CLASSES
    result = FolderScores(ConfusionMatrix(), FScore(NUM_CLASSES + 1, class_names=(*CLASSES, "no class")),
                          expected=len(truths))
    for stem in sorted(truths.keys() - preds.keys()):
        if _has_classes(read_mask(truths[stem])):  # an image with nothing to score counts in no mean
            result.unscored.append(stem)
            result.problems.append(f"{pred_dir / (stem + MASK_SUFFIX)}: missing; expected a prediction for "
                                   f"{truths[stem].name} (scored 0)")
    result.problems += [f"{preds[stem]}: no true mask {stem}{MASK_SUFFIX} in {true_dir}; a name that does not match?"
                        for stem in sorted(preds.keys() - truths.keys())]
    for stem in tqdm(sorted(truths.keys() & preds.keys()), desc="score", unit="mask", disable=not progress):
        truth = read_mask(truths[stem])  # a bad true mask is the grader's problem: it stops the scoring
        try:
            pred = read_like_the_grader(preds[stem])
        except DatasetError as err:
            result.problems.append(f"{err} (scored 0)")
            result.unscored += [stem] if _has_classes(truth) else []
            continue
        if pred.shape != truth.shape:
            result.problems.append(f"{preds[stem]}: {pred.shape[1]}×{pred.shape[0]}; expected the true mask's "
                                   f"{truth.shape[1]}×{truth.shape[0]} (scored 0)")
            result.unscored += [stem] if _has_classes(truth) else []
            continue
        no_label = pred >= NUM_CLASSES
        if no_label.any():
            values = np.unique(pred[no_label])[:8].tolist()
            result.problems.append(f"{preds[stem]}: {int(no_label.sum()):,} pixels hold {values}, which name no class: "
                                   "wrong in the F-score, left out of mIoU")
            keep = ~no_label
            result.matrix.update(pred[keep][None], truth[keep][None])
        else:
            result.matrix.update(pred[None], truth[None])
        result.fscore.update(np.where(no_label, no_class, pred)[None], truth[None])
        result.stems.append(stem)
    return result


def _has_classes(truth: np.ndarray) -> bool:
    return bool((truth < NUM_CLASSES).any())
