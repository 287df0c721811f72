"""The course challenge's F-score: computed per image, over the classes its ground truth holds, then averaged.

For one image and each class value c present in the true mask (background included):
precision = tp/(tp+fp+1e-7), recall = tp/(tp+fn+1e-7), F = 2·P·R/(P+R+1e-7); the image's score is the mean of F
over those classes, and the leaderboard's is the mean over images. A class only the prediction holds is not a
class of that image, though its pixels lower the recall of the classes they truly belong to. Unlike the
dataset-level mIoU and F1 of `metrics`, every image weighs the same, and a small class present in an image
weighs as much as the skin. Pixels labelled 255 (ignore) are left out; the challenge's masks hold none.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.distributed as dist

from faceparse_lib.classes import IGNORE_INDEX, NUM_CLASSES
from faceparse_lib.classes import class_names as class_names_for
from faceparse_lib.evaluation.metrics import class_indices, confusion_counts

EPS = 1e-7  # the challenge's smoothing term, in precision, recall and F alike


def class_fscores(confusions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F per image and class, N×C float64; present, N×C bool: the class is in that image's ground truth)."""
    confusions = np.asarray(confusions, dtype=np.float64)
    tp = np.diagonal(confusions, axis1=-2, axis2=-1)
    true, predicted = confusions.sum(axis=-1), confusions.sum(axis=-2)
    precision = tp / (predicted + EPS)  # tp + fp = predicted pixels
    recall = tp / (true + EPS)  # tp + fn = true pixels
    return 2 * precision * recall / (precision + recall + EPS), true > 0


def image_fscores(confusions: np.ndarray) -> np.ndarray:
    """The challenge score of each image: the mean F over the classes of its ground truth (NaN for an empty mask)."""
    f, present = class_fscores(confusions)
    counted = present.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counted > 0, (f * present).sum(axis=-1) / counted, np.nan)


class FScore:
    """Per-image challenge F-scores of a set, accumulated batch by batch; `mean()` is the leaderboard's number."""

    def __init__(self, num_classes: int = NUM_CLASSES, ignore_index: int | None = IGNORE_INDEX,
                 class_names: Sequence[str] | None = None) -> None:
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.class_names = tuple(class_names or class_names_for(num_classes))
        self._batches: list[np.ndarray] = []  # joined when read: one concatenation, not one per update

    @property
    def confusions(self) -> np.ndarray:
        """N×C×C confusion counts of every image added so far, in order."""
        if len(self._batches) != 1:
            empty = np.zeros((0, self.num_classes, self.num_classes), dtype=np.int64)
            self._batches = [np.concatenate([empty, *self._batches])]
        return self._batches[0]

    @confusions.setter
    def confusions(self, value: np.ndarray) -> None:
        self._batches = [np.asarray(value, dtype=np.int64)]

    @torch.no_grad()
    def update(self, pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> None:
        """Add a batch: class indices shaped like `target` (N×H×W or H×W), or logits/probabilities N×C×H×W."""
        pred, target = class_indices(pred, target, self.num_classes)
        if target.ndim == 2:  # one image
            pred, target = pred[None], target[None]
        counts = confusion_counts(pred, target, self.num_classes, self.ignore_index)
        self._batches.append(counts.cpu().numpy())

    @property
    def scores(self) -> np.ndarray:
        """The F-score of every image, in the order they were added."""
        return image_fscores(self.confusions)

    def mean(self) -> float:
        """The mean over images (images with an empty ground truth left out): the leaderboard's score."""
        scores = self.scores
        return float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")

    def per_class(self) -> np.ndarray:
        """Each class's mean F over the images whose ground truth holds it (NaN for a class in none)."""
        f, present = class_fscores(self.confusions)
        counted = present.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counted > 0, (f * present).sum(axis=0) / counted, np.nan)

    def __len__(self) -> int:
        return len(self.confusions)

    def all_gather(self) -> FScore:
        """Every torch.distributed rank's images, in rank order (no-op when not initialised); returns self."""
        if dist.is_available() and dist.is_initialized():
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, self.confusions)
            self.confusions = np.concatenate(gathered)
        return self

    def state_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable state: classes, ignore index and each image's confusion counts."""
        return {"num_classes": self.num_classes, "ignore_index": self.ignore_index,
                "class_names": list(self.class_names), "confusions": self.confusions.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> FScore:
        """An FScore holding the images saved by `state_dict`."""
        meter = cls(state["num_classes"], state["ignore_index"], state.get("class_names"))
        confusions = np.asarray(state["confusions"], dtype=np.int64)
        meter.confusions = confusions.reshape(-1, meter.num_classes, meter.num_classes)
        return meter

    def __repr__(self) -> str:
        return f"FScore(images={len(self)}, mean={self.mean():.4f})"
