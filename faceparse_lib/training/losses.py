"""The training loss: class-weighted cross-entropy on the main and auxiliary logits, optionally plus one of smp's
region or hard-pixel losses (Dice, Lovász-softmax, focal) on the main logits."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from segmentation_models_pytorch.losses import DiceLoss, FocalLoss, LovaszLoss
from torch import nn

from faceparse_lib.classes import IGNORE_INDEX
from faceparse_lib.standalone.inference import resize_bilinear


def weighted_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, class_weights: torch.Tensor | None = None, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Sum over pixels of w[target] × CE, divided by the number of non-ignored pixels (0 when there are none).

    This is mmsegmentation's CrossEntropyLoss with `avg_non_ignore=True`. The seed report ran mmseg's default
    (`avg_non_ignore=False`: divide by every pixel, ignored ones included), which gives the same value whenever
    no pixel is ignored; it differs only on crops padded with 255, where the padding would otherwise dilute the
    loss. It is deliberately not torch's `reduction="mean"`, which divides by the sum of the weights of the
    non-ignored pixels and so cancels the overall scale of the weights and makes a pixel's pull depend on
    which other classes share its batch.
    """
    logits = resize_bilinear(logits, target.shape[-2:])  # as mmseg does before its losses
    per_pixel = F.cross_entropy(logits, target, weight=class_weights, ignore_index=ignore_index, reduction="none")
    valid = (target != ignore_index).sum()
    # Ignored pixels contribute exactly 0 (and 0 gradient), so an all-ignored batch gives 0, not 0/0.
    return per_pixel.sum() / valid.clamp(min=1)


def as_weight_tensor(class_weights: Sequence[float] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """Class weights as a 1-D float tensor; raises ValueError unless they are finite and non-negative."""
    weights = torch.as_tensor(class_weights, dtype=torch.float32).detach().clone()
    if weights.ndim != 1 or weights.numel() == 0:
        raise ValueError(f"class_weights: expected a 1-D sequence with one weight per class, got shape {tuple(weights.shape)}")
    if not torch.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"class_weights: expected finite non-negative numbers, got {weights.tolist()}")
    return weights


def smp_term(name: str, ignore_index: int = IGNORE_INDEX) -> nn.Module:
    """smp's multiclass Dice, Lovász-softmax or focal loss on logits, ignoring `ignore_index`."""
    if name == "dice":
        return DiceLoss("multiclass", from_logits=True, ignore_index=ignore_index)
    if name == "lovasz":
        return LovaszLoss("multiclass", from_logits=True, ignore_index=ignore_index)
    if name == "focal":
        return FocalLoss("multiclass", ignore_index=ignore_index)
    raise ValueError(f"unknown loss term {name!r}; choose from dice, lovasz, focal")


class SegmentationLoss(nn.Module):
    """Weighted CE on "out" + aux_weight × weighted CE on "aux" (+ extra_weight × smp's `extra` term on "out")."""

    def __init__(
        self,
        class_weights: Sequence[float] | np.ndarray | torch.Tensor | None = None,
        aux_weight: float = 0.4,
        ignore_index: int = IGNORE_INDEX,
        dice_weight: float = 0.0,
        extra: str | None = None,
        extra_weight: float = 1.0,
    ):
        super().__init__()
        weights = None if class_weights is None else as_weight_tensor(class_weights)
        self.register_buffer("class_weights", weights, persistent=False)
        self.aux_weight = aux_weight
        self.ignore_index = ignore_index
        if dice_weight and extra is None:  # the older spelling of extra="dice"
            extra, extra_weight = "dice", dice_weight
        self.extra_name, self.extra_weight = extra, extra_weight if extra else 0.0
        self.extra = smp_term(extra, ignore_index) if extra else None

    @classmethod
    def from_name(cls, name: str, class_weights: torch.Tensor | None, aux_weight: float) -> SegmentationLoss:
        """The loss a TrainConfig names: "ce", or "ce+dice", "ce+lovasz", "ce+focal"."""
        parts = name.split("+")
        if parts[0] != "ce" or len(parts) > 2:
            raise ValueError(f"loss {name!r}: expected 'ce' or 'ce+dice', 'ce+lovasz', 'ce+focal'")
        return cls(class_weights, aux_weight=aux_weight, extra=parts[1] if len(parts) == 2 else None)

    def terms(self, outputs: dict[str, torch.Tensor] | torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """The unweighted loss terms present: "ce" always, "aux" when the outputs have it, the extra term's name."""
        if isinstance(outputs, torch.Tensor):
            outputs = {"out": outputs}
        self.check_classes(outputs["out"])
        target = target.long()
        found = {"ce": weighted_cross_entropy(outputs["out"], target, self.class_weights, self.ignore_index)}
        if "aux" in outputs and self.aux_weight:
            found["aux"] = weighted_cross_entropy(outputs["aux"], target, self.class_weights, self.ignore_index)
        if self.extra is not None:
            found[self.extra_name] = self.extra(resize_bilinear(outputs["out"], target.shape[-2:]).float(), target)
        return found

    def total(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """The weighted sum of `terms` that training minimises."""
        scale = {"ce": 1.0, "aux": self.aux_weight, self.extra_name: self.extra_weight}
        return sum(scale[name] * value for name, value in terms.items())

    def forward(self, outputs: dict[str, torch.Tensor] | torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The total loss for a model's output dict (or plain logits N×C×H×W) and an int mask N×H×W."""
        return self.total(self.terms(outputs, target))

    def check_classes(self, logits: torch.Tensor) -> None:
        """Raise ValueError when the class weights do not match the number of logit channels."""
        if self.class_weights is not None and self.class_weights.numel() != logits.shape[1]:
            raise ValueError(
                f"class_weights has {self.class_weights.numel()} entries but the logits have {logits.shape[1]} classes"
            )
