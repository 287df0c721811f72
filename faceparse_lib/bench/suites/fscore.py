"""The challenge F-score from one bincount per batch, against the per-class loop that transcribes its rule."""

from __future__ import annotations

import numpy as np

from faceparse_lib.bench import Case, Comparison, compare
from faceparse_lib.evaluation.fscore import FScore


def per_class_loop(preds: np.ndarray, truths: np.ndarray) -> list[float]:
    """The course page's rule, image by image and class by class (what student code usually does)."""
    scores = []
    for pred, truth in zip(preds, truths):
        per_class = []
        for c in np.unique(truth):
            tp = np.sum((pred == c) & (truth == c))
            fp = np.sum((pred == c) & (truth != c))
            fn = np.sum((pred != c) & (truth == c))
            precision, recall = tp / (tp + fp + 1e-7), tp / (tp + fn + 1e-7)
            per_class.append(2 * precision * recall / (precision + recall + 1e-7))
        scores.append(float(np.mean(per_class)))
    return scores


def masks(n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """n true masks holding ~12 classes each, and predictions right on 80 % of the pixels."""
    rng = np.random.default_rng(0)
    truths = np.stack([rng.choice(rng.choice(19, 12, replace=False), size=(size, size)) for _ in range(n)]).astype(np.uint8)
    preds = np.where(rng.random(truths.shape) < 0.8, truths, rng.integers(0, 19, truths.shape)).astype(np.uint8)
    return preds, truths


def run(quick: bool) -> list[Comparison]:
    """Per-image F-scores of a batch of 512x512 masks (quick: 4 at 128)."""
    n, size, repeats = (4, 128, 3) if quick else (16, 512, 3)
    preds, truths = masks(n, size)

    def ours() -> None:
        FScore().update(preds, truths)

    return [compare(
        f"challenge F-score of {n} masks at {size}x{size} (CPU)",
        baseline=Case("per-class loop (the rule transcribed)", lambda: per_class_loop(preds, truths)),
        cases=[Case("FScore.update (one bincount per image)", ours)],
        units=n, unit="masks", repeats=repeats,
    )]
