"""ConfusionMatrix.update against torchmetrics' MulticlassConfusionMatrix on the same predictions and masks."""

from __future__ import annotations

import torch

from faceparse_lib.bench import Case, Comparison, compare
from faceparse_lib.classes import IGNORE_INDEX, NUM_CLASSES
from faceparse_lib.evaluation.metrics import ConfusionMatrix


def batch(n: int, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits N×19×H×W, their class indices, and int64 masks (as the dataset yields) with 5 % ignore pixels."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(n, NUM_CLASSES, size, size, generator=generator)
    target = torch.randint(0, NUM_CLASSES, (n, size, size), generator=generator)
    target[torch.rand(target.shape, generator=generator) < 0.05] = IGNORE_INDEX
    return logits.to(device), logits.argmax(1).to(device), target.to(device)


def synchronised(update, pred: torch.Tensor, target: torch.Tensor):
    """A callable running `update(pred, target)` and waiting for the GPU, so the time is the whole update."""

    def call() -> None:
        update(pred, target)
        if pred.device.type == "cuda":
            torch.cuda.synchronize()

    return call


def update_comparison(inputs: str, pred: torch.Tensor, target: torch.Tensor, repeats: int) -> Comparison:
    """torchmetrics (default argument checks) as the baseline; torchmetrics unchecked; ConfusionMatrix."""
    try:
        from torchmetrics.classification import MulticlassConfusionMatrix
    except ImportError as err:
        raise ImportError("the metrics benchmark compares with torchmetrics: pip install torchmetrics") from err

    def torchmetrics_case(name: str, **kwargs) -> Case:
        metric = MulticlassConfusionMatrix(NUM_CLASSES, ignore_index=IGNORE_INDEX, **kwargs).to(device)
        return Case(name, synchronised(metric.update, pred, target))

    device = target.device
    ours = ConfusionMatrix(device=device)
    n, size = target.shape[0], target.shape[-1]
    return compare(
        f"confusion-matrix update, {inputs}, batch {n} at {size}x{size} on {device.type}",
        baseline=torchmetrics_case("torchmetrics MulticlassConfusionMatrix"),
        cases=[
            torchmetrics_case("torchmetrics, validate_args=False", validate_args=False),
            Case("ConfusionMatrix.update", synchronised(ours.update, pred, target), note="checks labels too"),
        ],
        units=target.numel(),
        unit="pixels",
        repeats=repeats,
    )


def run(quick: bool) -> list[Comparison]:
    """Class-index and logit inputs on CPU, and on the GPU when there is one."""
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    n, size, repeats = (2, 128, 3) if quick else (8, 512, 5)
    results = []
    for device in devices:
        logits, indices, target = batch(n, size, device)
        results.append(update_comparison("class indices", indices, target, repeats))
        results.append(update_comparison("logits", logits, target, repeats))
    return results
