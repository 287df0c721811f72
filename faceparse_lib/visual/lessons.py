"""Figures that teach: what augmentation does to one face, the learning-rate schedule, where a model's parameters
go against the cap, and one image's F-score beside its IoU. Each returns a matplotlib Figure and saves nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from faceparse_lib.classes import CLASS_TITLES, IGNORE_INDEX, colorize
from faceparse_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD

if TYPE_CHECKING:
    import pandas as pd

    from faceparse_lib.training.config import TrainConfig


def _displayable(image: torch.Tensor) -> np.ndarray:
    """An ImageNet-normalised C×H×W tensor back to an H×W×3 uint8 picture (padding shows black)."""
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return (image * std + mean).clamp(0, 1).mul(255).byte().permute(1, 2, 0).numpy()


def augmentation_samples(image: np.ndarray, mask: np.ndarray,
                         augment: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                         count: int = 4, seed: int = 0, input_size: int | None = None) -> Figure:
    """One face and its mask, then `count` draws of the training augmentation (mask pixels it ignores in white).

    `input_size` (a config's) resizes the pair first, as training does, so a crop covers what it covers there.
    """
    from faceparse_lib.data.batches import resize_pair

    source = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    target = torch.from_numpy(mask.astype(np.int64))
    if input_size is not None:
        source, target = resize_pair(source, target, input_size)
    fig = Figure(figsize=(2.2 * (count + 1), 4.6), layout="constrained")
    axes = fig.subplots(2, count + 1, squeeze=False)
    with torch.random.fork_rng(devices=[]):  # the draws are repeatable, and the caller's random state untouched
        torch.manual_seed(seed)
        draws = [(image, mask, "original")] + [
            (*_augmented(augment, source, target), f"draw {k}") for k in range(1, count + 1)]
    for column, (picture, labels, title) in enumerate(draws):
        shown = colorize(np.where(labels == IGNORE_INDEX, 0, labels).astype(np.uint8))
        shown[labels == IGNORE_INDEX] = 255
        axes[0, column].imshow(picture)
        axes[1, column].imshow(shown)
        axes[0, column].set_title(title, fontsize=9)
        for ax in axes[:, column]:
            ax.set_axis_off()
    fig.suptitle("The training augmentation: every draw differs; the mask follows the image (white: ignored)",
                 fontsize=10)
    return fig


def _augmented(augment, source: torch.Tensor, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    image, mask = augment(source.clone(), target.clone())
    return _displayable(image), mask.numpy()


def learning_rate_schedule(cfg: TrainConfig, title: str | None = None) -> Figure:
    """The learning rate of a config at every iteration: the warm-up's ramp, then the decay; the warm-up's end marked."""
    from faceparse_lib.training.config import lr_at

    steps = np.unique(np.linspace(0, cfg.iterations - 1, min(cfg.iterations, 2000)).astype(int))
    rates = [lr_at(cfg, int(step)) for step in steps]
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(steps, rates, color="C0")
    if cfg.warmup_iterations:
        ax.axvline(cfg.warmup_iterations, color="C1", linestyle="--", linewidth=1)
        ax.annotate(f"warm-up ends ({cfg.warmup_iterations:,})", (cfg.warmup_iterations, max(rates)), xytext=(6, -12),
                    textcoords="offset points", color="C1", fontsize=9)
    ax.set_xlabel("iteration")
    ax.set_ylabel("learning rate")
    ax.set_title(title or f"Learning rate: {cfg.optimizer}, peak {cfg.lr:g}, poly decay to {cfg.min_lr:g}")
    ax.grid(True, alpha=0.3)
    return fig


def parameter_budget(parts: Sequence[tuple[str, int]], cap: int | None, model: str) -> Figure:
    """A model's parameters by part, stacked in one bar against the rules' cap."""
    fig = Figure(figsize=(7, 2.6), layout="constrained")
    ax = fig.subplots()
    left = 0
    for k, (part, count) in enumerate(parts):
        ax.barh([0], [count], left=left, height=0.6, color=f"C{k}", label=f"{part}: {count:,}")
        left += count
    if cap:
        ax.axvline(cap, color="red", linewidth=2, label=f"the cap: fewer than {cap:,}")
        ax.set_xlim(0, max(cap, left) * 1.04)
    ax.set_ylim(-0.5, 0.5)
    ax.set_yticks([])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.set_xlabel("parameters")
    share = f" ({100 * left / cap:.0f} % of the cap)" if cap else ""
    ax.set_title(f"{model}: {left:,} parameters{share}")
    fig.legend(loc="outside lower center", ncol=2, fontsize=9, frameon=False)
    return fig


def fscore_and_iou(truth: np.ndarray | torch.Tensor, prediction: np.ndarray | torch.Tensor) -> Figure:
    """One image's F and IoU per class of its ground truth, and the two means: why the two scores rank differently."""
    from faceparse_lib.evaluation.fscore import FScore, class_fscores
    from faceparse_lib.visual.pictures import image_miou, to_mask

    meter = FScore()
    meter.update(torch.from_numpy(to_mask(prediction).astype(np.int64)), torch.from_numpy(to_mask(truth).astype(np.int64)))
    confusion = meter.confusions[0].astype(np.float64)
    f, present = class_fscores(confusion)
    classes = np.flatnonzero(present)
    tp = np.diagonal(confusion)
    iou = tp / (confusion.sum(axis=0) + confusion.sum(axis=1) - tp).clip(min=1)
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(classes))
    ax.bar(x - 0.2, f[classes], width=0.4, label=f"F (the image's F-score: {meter.mean():.3f})", color="C0")
    ax.bar(x + 0.2, iou[classes], width=0.4, label=f"IoU (the image's mIoU: {image_miou(truth, prediction):.3f})", color="C1")
    ax.set_xticks(x, [CLASS_TITLES[c] for c in classes], rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1.3)
    ax.set_ylabel("score")
    ax.set_title("One image, per class: F = 2·IoU / (1 + IoU), so F forgives a partly found class more", fontsize=10)
    ax.legend(fontsize=9, loc="upper center", ncol=2)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def loss_shares(pixels: np.ndarray | Sequence[int], weights: np.ndarray | torch.Tensor | Sequence[float],
                method: str = "weighted") -> Figure:
    """Each class's share of the cross-entropy loss, unweighted (its pixel share) against weighted (n_c·w_c / Σ n·w).

    The kit's weighted CE sums w_y·loss over the pixels (divided by their count), so at a given per-pixel loss a
    class pulls on the gradient with its pixels times its weight; as a share of the total, n_c·w_c / Σ n·w.
    """
    counts = np.asarray(pixels, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if counts.shape != w.shape:
        raise ValueError(f"{len(counts)} pixel counts but {len(w)} weights: one of each per class")
    plain, weighted = counts / counts.sum(), counts * w / (counts * w).sum()
    order = np.argsort(plain)[::-1]
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(order))
    ax.barh(y - 0.2, plain[order], height=0.4, color="0.6", label="unweighted: the class's share of the pixels")
    ax.barh(y + 0.2, weighted[order], height=0.4, color="C0", label=f"{method}: pixels × weight, normalised")
    ax.set_yticks(y, [CLASS_TITLES[c] for c in order], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("share of the loss (log scale)")
    rarest = order[-1]
    ax.set_title(f"Who the loss listens to: {CLASS_TITLES[rarest]} {plain[rarest]:.3%} of it unweighted, "
                 f"{weighted[rarest]:.3%} {method}", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncol=2, fontsize=9, frameon=False)
    return fig


def overfitting(log: pd.DataFrame, metric: str = "fscore") -> Figure:
    """Train loss, holdout loss and the holdout score of one run over iterations, where each is at its best marked.

    On 900 training images the holdout loss often turns up while the score still rises (the model grows confident
    on the pixels it gets wrong): the kept checkpoint follows the score, and the gap between the two losses is the
    overfitting.
    """
    from faceparse_lib.data.rules import METRIC_TITLES

    train = log[(log["kind"] == "train") & log["loss"].notna()].sort_values("iteration")
    val = log[log["kind"] == "val"].dropna(subset=[c for c in ("val_loss", metric) if c in log.columns])
    if val.empty or not {"val_loss", metric} <= set(val.columns):
        raise ValueError("the log has no validation rows with a loss and a score: nothing to compare yet")
    val = val.sort_values("iteration")
    main = "loss_out" if "loss_out" in train.columns and train["loss_out"].notna().all() else "loss"
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(train["iteration"], train[main], color="C0", linewidth=1, alpha=0.7, label="train loss (main head)")
    ax.plot(val["iteration"], val["val_loss"], color="C1", marker="o", label="holdout loss")
    lowest = val.loc[val["val_loss"].idxmin()]
    ax.axvline(lowest["iteration"], color="C1", linestyle=":", linewidth=1)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    score = ax.twinx()
    score.plot(val["iteration"], val[metric], color="C2", marker="s", label=f"holdout {METRIC_TITLES[metric]}")
    best = val.loc[val[metric].idxmax()]
    score.axvline(best["iteration"], color="C2", linestyle="--", linewidth=1)
    score.set_ylabel(METRIC_TITLES[metric])
    ax.set_title(f"Holdout loss lowest at {int(lowest['iteration']):,}; {METRIC_TITLES[metric]} best at "
                 f"{int(best['iteration']):,}", fontsize=10)
    ax.grid(True, alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + score.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    return fig
