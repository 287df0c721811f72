"""Dataset-level confusion matrix and the scores read from it: mIoU (mmsegmentation), mean F1, accuracy."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist

from faceparse_lib.classes import IGNORE_INDEX, NUM_CLASSES
from faceparse_lib.classes import class_names as class_names_for


class ConfusionMatrix:
    """Pixel confusion matrix summed over a whole set; rows are the true class, columns the predicted class.

    Scores as mmsegmentation computes mIoU and face-parsing papers mean F1. With I = diagonal, L = row sums (true pixels), P = column sums (predicted pixels):
    IoU = I / (P + L - I), F1 = 2I / (P + L), precision = I / P, recall = I / L. A class absent from both
    truth and prediction has no score (NaN) and is left out of every mean, as in mmsegmentation; a class
    predicted but never true scores 0. Pixels whose target is `ignore_index` are dropped, whatever was predicted.
    """

    def __init__(
        self,
        num_classes: int = NUM_CLASSES,
        ignore_index: int | None = IGNORE_INDEX,
        class_names: Sequence[str] | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        if class_names is None:
            class_names = class_names_for(num_classes)
        if num_classes < 1 or (ignore_index is not None and ignore_index < 0):
            raise ValueError(
                f"expected num_classes >= 1 and a non-negative ignore_index or None, got {num_classes}, {ignore_index}"
            )
        if len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.num_classes, self.ignore_index, self.class_names = num_classes, ignore_index, tuple(class_names)
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    def reset(self) -> None:
        """Forget every pixel counted so far."""
        self.matrix.zero_()

    @torch.no_grad()
    def update(self, pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> None:
        """Count a batch: class indices shaped like `target`, or logits N×C×H×W (C×H×W for an H×W target)."""
        pred, target = class_indices(pred, target, self.num_classes)
        if target.numel() == 0:
            return
        counts = confusion_counts(pred.reshape(1, -1), target.reshape(1, -1), self.num_classes, self.ignore_index)[0]
        if self.matrix.device != counts.device:
            self.matrix = self.matrix.to(counts.device)
        self.matrix += counts

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """Add the counts of another matrix with the same classes and ignore index; returns self."""
        if (other.num_classes, other.ignore_index) != (self.num_classes, self.ignore_index):
            raise ValueError(
                f"cannot merge a matrix of {other.num_classes} classes (ignore {other.ignore_index}) into one of "
                f"{self.num_classes} classes (ignore {self.ignore_index})"
            )
        self.matrix += other.matrix.to(self.matrix.device)
        return self

    def all_reduce(self) -> ConfusionMatrix:
        """Sum the matrices of every torch.distributed process in place (no-op when not initialised); returns self.

        Call it once, on every rank, after the last update: each call adds the other ranks' counts again.
        """
        if dist.is_available() and dist.is_initialized():
            if dist.get_backend() == "nccl" and self.matrix.device.type != "cuda":
                self.matrix = self.matrix.to(torch.device("cuda", torch.cuda.current_device()))
            dist.all_reduce(self.matrix, op=dist.ReduceOp.SUM)
        return self

    def state_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable state: number of classes, ignore index, class names and the matrix as lists."""
        return {
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
            "class_names": list(self.class_names),
            "matrix": self.matrix.cpu().tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> ConfusionMatrix:
        """Restore the counts saved by `state_dict`; returns self."""
        matrix = torch.as_tensor(state["matrix"], dtype=torch.int64)
        if (state["num_classes"], state["ignore_index"]) != (self.num_classes, self.ignore_index) or matrix.shape != (
            self.num_classes,
            self.num_classes,
        ):
            raise ValueError(
                f"state of {state['num_classes']} classes (ignore {state['ignore_index']}, matrix "
                f"{tuple(matrix.shape)}) does not fit {self.num_classes} classes (ignore {self.ignore_index})"
            )
        self.class_names = tuple(state.get("class_names", self.class_names))
        self.matrix = matrix.to(self.matrix.device)
        return self

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> ConfusionMatrix:
        """A new matrix holding the state saved by `state_dict`."""
        names = state.get("class_names")
        return cls(state["num_classes"], state["ignore_index"], names).load_state_dict(state)

    def _totals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(intersection I, predicted P, true L) per class as float64."""
        m = self.matrix.cpu().numpy().astype(np.float64)
        return np.diag(m).copy(), m.sum(axis=0), m.sum(axis=1)

    def iou(self) -> np.ndarray:
        """Per-class IoU = I / (P + L - I); NaN for a class absent from truth and prediction."""
        i, p, l = self._totals()
        return _divide(i, p + l - i)

    def f1(self) -> np.ndarray:
        """Per-class F1 (Dice) = 2I / (P + L); NaN for a class absent from truth and prediction."""
        i, p, l = self._totals()
        return _divide(2 * i, p + l)

    def precision(self) -> np.ndarray:
        """Per-class precision = I / P; NaN for a class never predicted."""
        i, p, _ = self._totals()
        return _divide(i, p)

    def recall(self) -> np.ndarray:
        """Per-class recall = I / L; NaN for a class never true."""
        i, _, l = self._totals()
        return _divide(i, l)

    def accuracy(self) -> np.ndarray:
        """Per-class accuracy as mmsegmentation reports it (its "Acc" column): I / L, the same number as recall."""
        return self.recall()

    def miou(self) -> float:
        """Mean IoU over the classes present in truth or prediction (mmsegmentation's mIoU)."""
        return _nanmean(self.iou())

    def mean_f1(self, include_background: bool = False) -> float:
        """Mean F1 over classes 1..C-1 (class 0, background, left out), classes absent from both left out as in mIoU."""
        scores = self.f1()
        return _nanmean(scores if include_background else scores[1:])

    def pixel_accuracy(self) -> float:
        """Share of the counted (non-ignored) pixels predicted right; NaN before any pixel."""
        total = int(self.matrix.sum())
        return int(self.matrix.diagonal().sum()) / total if total else float("nan")

    def table(self) -> pd.DataFrame:
        """Per-class scores and pixel totals as a DataFrame indexed by class name; NaN where a score is undefined."""
        _, predicted, true = self._totals()
        frame = pd.DataFrame(
            {
                "IoU": self.iou(),
                "F1": self.f1(),
                "precision": self.precision(),
                "recall": self.recall(),
                "true_pixels": true.astype(np.int64),
                "pred_pixels": predicted.astype(np.int64),
            },
            index=pd.Index(self.class_names, name="class"),
        )
        return frame

    def __repr__(self) -> str:
        return (
            f"ConfusionMatrix(num_classes={self.num_classes}, ignore_index={self.ignore_index}, "
            f"pixels={int(self.matrix.sum())}, mIoU={self.miou():.4f}, mean_F1={self.mean_f1():.4f})"
        )


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise ratio with NaN where the denominator is 0 (an undefined score, not 0 or 1)."""
    out = np.full_like(numerator, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _nanmean(values: np.ndarray) -> float:
    """Mean of the defined values; NaN (without a warning) when none is."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


def class_indices(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray,
                  num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(pred, target) as class-index tensors on pred's device, shapes and dtypes checked: logits N×C×H×W (C×H×W
    for an H×W target) go through one argmax, so a meter never scores the wrong thing."""
    pred, target = _common_integers(torch.as_tensor(pred)), _common_integers(torch.as_tensor(target))
    if target.is_floating_point() or target.is_complex():
        raise ValueError(f"target has dtype {target.dtype}; expected integer class indices")
    target = target.to(pred.device)
    if pred.is_floating_point():
        c, shape = num_classes, tuple(target.shape)
        expected = {2: (c, *shape), 3: (shape[0], c, *shape[1:])}.get(target.ndim)
        if tuple(pred.shape) != expected:
            what = ("holds floats shaped like the target: class indices must be integers" if tuple(pred.shape) == shape
                    else f"logits of shape {tuple(pred.shape)} do not fit target of shape {shape}")
            raise ValueError(f"pred {what}; expected N×{c}×H×W logits for an N×H×W target (or {c}×H×W for H×W), "
                             "or integer class indices shaped like the target")
        return pred.max(dim=-3).indices, target  # the same first-max indices as argmax, several times faster on CPU
    if pred.shape != target.shape:
        raise ValueError(f"pred of shape {tuple(pred.shape)} does not match target of shape {tuple(target.shape)}; "
                         f"expected class indices shaped like the target, or N×{num_classes}×H×W logits")
    return pred, target


def _common_integers(values: torch.Tensor) -> torch.Tensor:
    """uint16/32/64 (16-bit masks read by numpy) as int64, which every torch operation supports."""
    if values.is_floating_point() or values.is_complex() or values.dtype in _NATIVE_INTEGERS:
        return values
    return values.long()


_NATIVE_INTEGERS = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def confusion_counts(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int | None = IGNORE_INDEX) -> torch.Tensor:
    """N×C×C int64 confusion counts (rows true, columns predicted), one matrix per leading index of the N×... class
    indices `pred` and `target`: the one primitive under `ConfusionMatrix` and `FScore` (as smp's `get_stats`).

    Target pixels equal to `ignore_index` are dropped; a predicted label outside 0..C-1, or a true one outside 0..C-1
    and `ignore_index`, raises ValueError naming the labels.
    """
    c = num_classes
    top = max(c - 1, ignore_index if ignore_index is not None else 0)
    allowed = f"0..{c - 1}" + (f" and {ignore_index}" if ignore_index is not None else "")
    rows, cols = target.reshape(len(target), -1), pred.reshape(len(pred), -1)
    _require_range("pred", cols, c - 1, f"0..{c - 1}")
    if not (rows.dtype == torch.uint8 and top >= 255):  # a uint8 target cannot leave 0..top then
        _require_range("target", rows, top, allowed)
    # Every target label up to `top` gets a row, so the ignore row and stray labels are dropped or reported from the
    # counts themselves instead of from extra passes over the pixels.
    counts = _pair_counts(rows, cols, c, top + 1)
    if ignore_index is not None:
        counts[:, ignore_index] = 0
    stray = counts[:, c:].sum(dim=(0, 2)).nonzero().flatten()
    if stray.numel():
        raise ValueError(f"target holds {_listed(stray + c)} outside {allowed}")
    return counts[:, :c]


def _require_range(name: str, values: torch.Tensor, top: int, allowed: str) -> None:
    """Raise ValueError naming the offending labels unless every value lies in 0..top."""
    if values.numel() == 0:
        return
    if values.device.type == "cpu":
        array = values.numpy()
        low, high = int(array.min()), int(array.max())
    else:
        low, high = (int(v) for v in torch.aminmax(values))
    if low < 0 or high > top:
        raise ValueError(f"{name} holds {_listed(values[(values < 0) | (values > top)].unique())} outside {allowed}")


def _pair_counts(rows: torch.Tensor, cols: torch.Tensor, num_cols: int, num_rows: int) -> torch.Tensor:
    """N×num_rows×num_cols int64 counts of each (row, col) pair in each of the N rows of `rows` and `cols`."""
    # numpy's bincount and integer arithmetic run several times faster than torch's on CPU.
    count = _pair_counts_numpy if rows.device.type == "cpu" else _pair_counts_torch
    return count(rows, cols, num_cols, num_rows)


def _pair_counts_numpy(rows: torch.Tensor, cols: torch.Tensor, num_cols: int, num_rows: int) -> torch.Tensor:
    bins = num_rows * num_cols
    # 16-bit index arithmetic when the bins allow it: memory traffic, not the bincount, is what costs here.
    dtype = np.uint16 if bins <= 1 << 16 else np.int64
    out = np.empty((len(rows), num_rows, num_cols), dtype=np.int64)
    for i, (image_rows, image_cols) in enumerate(zip(rows.numpy(), cols.numpy())):
        index = image_rows.astype(dtype)
        index *= num_cols
        np.add(index, image_cols, out=index, casting="unsafe")  # labels were checked to lie in 0..num_cols-1
        out[i] = np.bincount(index, minlength=bins).reshape(num_rows, num_cols)
    return torch.from_numpy(out)


def _pair_counts_torch(rows: torch.Tensor, cols: torch.Tensor, num_cols: int, num_rows: int) -> torch.Tensor:
    n = len(rows)
    index = rows.long() * num_cols + cols.long()
    index += (torch.arange(n, device=rows.device) * (num_rows * num_cols))[:, None]
    return torch.bincount(index.flatten(), minlength=n * num_rows * num_cols).view(n, num_rows, num_cols)


def _listed(values: torch.Tensor, limit: int = 8) -> str:
    """'label 23' or 'labels 19, 40 ...' for an error message."""
    shown = values.cpu().tolist()
    text = ", ".join(str(v) for v in shown[:limit]) + (" ..." if len(shown) > limit else "")
    return ("label " if len(shown) == 1 else "labels ") + text
