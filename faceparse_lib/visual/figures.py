"""Figures for notebooks and the report; each function returns a matplotlib Figure and saves nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from faceparse_lib.classes import CLASS_TITLES, CLASSES, PALETTE, colorize, overlay
from faceparse_lib.data.rules import METRIC_NAMES

if TYPE_CHECKING:  # torch stays out of this module's import
    import torch

    from faceparse_lib.evaluation.metrics import ConfusionMatrix


def class_legend_handles(names: Sequence[str] = CLASSES) -> list[Patch]:
    """One coloured patch per class, for a legend (pass CLASS_TITLES for readable names)."""
    return [Patch(facecolor=PALETTE[c] / 255, edgecolor="0.5", label=f"{c} {name}") for c, name in enumerate(names)]


ROW_LABEL_CHARS = 26  # what fits down the side of a 3-inch picture row


def row_label(title: str, limit: int = ROW_LABEL_CHARS) -> str:
    """`title` with each line shortened in the middle to `limit` characters ("swapped: 01a64ed9…b.png"), so it never
    runs off its row."""
    return "\n".join(_elide(line, limit) for line in title.split("\n"))


def _elide(line: str, limit: int) -> str:
    if len(line) <= limit:
        return line
    head = (limit - 1) // 2
    return line[:head] + "…" + line[len(line) - (limit - 1 - head):]


def _picture_rows(rows: Sequence[Sequence[np.ndarray]], labels: Sequence[str], titles: Sequence[str] | None,
                  figsize: tuple[float, float]) -> Figure:
    """A grid of pictures without ticks: one row per sample, `labels` over the first row, `titles` down the left."""
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(len(rows), len(labels), squeeze=False)
    for row, pictures in enumerate(rows):
        for ax, picture, label in zip(axes[row], pictures, labels):
            ax.imshow(picture, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(label)
        if titles is not None:
            axes[row, 0].set_ylabel(row_label(titles[row]))
    return fig


def sample_grid(samples: Sequence[tuple[np.ndarray, np.ndarray]], titles: Sequence[str] | None = None) -> Figure:
    """Rows of image / colourised mask / overlay for (H×W×3 uint8 image, H×W mask) pairs, with a class legend."""
    rows = [(image, colorize(np.asarray(mask)), overlay(image, np.asarray(mask))) for image, mask in samples]
    fig = _picture_rows(rows, ("image", "mask", "overlay"), titles, (9, 3 * len(rows) + 0.9))
    fig.legend(handles=class_legend_handles(), loc="outside lower center", ncol=5, fontsize="small", frameon=False)
    return fig


# --- report figures: training curves, per-class scores, confusion matrix, predictions, runs compared ---

ERROR_LABEL, IGNORE_LABEL = "error (prediction ≠ truth)", "ignore (255)"
BANNER_COLOUR = "#b00020"
_BANNER_GID = "faceparse-banner"


def add_banner(figure: Figure, text: str) -> None:
    """Write `text` in a red strip across the top of a figure, once (results that are not about real faces)."""
    if any(artist.get_gid() == _BANNER_GID for artist in figure.texts):
        return
    figure.text(0.5, 1.0, text, ha="center", va="bottom", fontsize=10, fontweight="bold", color="white",
                gid=_BANNER_GID, bbox=dict(boxstyle="square,pad=0.3", facecolor=BANNER_COLOUR, edgecolor="none"))
SCORE_LABELS = {**METRIC_NAMES, "mean_f1": "mean F1", "pixel_accuracy": "pixel accuracy", "val_loss": "val loss"}


def _val_rows(log: pd.DataFrame, metric: str = "miou") -> pd.DataFrame:
    """The validation rows of a log.csv frame that hold `metric`, by iteration."""
    if metric not in log.columns:
        raise ValueError(f"log has no {metric!r} column; columns: {', '.join(map(str, log.columns))}")
    rows = log[(log["kind"] == "val") & log[metric].notna()] if "kind" in log.columns else log[log[metric].notna()]
    return rows.sort_values("iteration")


def loss_curves(log: pd.DataFrame, title: str = "Loss") -> Figure:
    """Figure 1: the main head's train and val loss against iteration, like with like; the training total beside.

    Validation scores the main head alone, so the train curve it is compared with is the main head's loss
    (`loss_out`); the total that training minimises (plus aux_weight · aux and any extra term) is its own, dashed line.
    """
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    train = log[log["kind"] == "train"].dropna(subset=["loss"]).sort_values("iteration")
    main = "loss_out" if "loss_out" in train.columns and train["loss_out"].notna().all() else "loss"
    ax.plot(train["iteration"], train[main], color="C0", linewidth=1.2, label="train loss (main head)")
    other_terms = any(c in train.columns and train[c].notna().any() for c in ("loss_aux", "loss_extra"))
    if main == "loss_out" and other_terms:  # an auxiliary head or an extra term (Lovász, Dice, focal)
        ax.plot(train["iteration"], train["loss"], color="C0", linewidth=1.0, linestyle="--", alpha=0.5,
                label="train total (every weighted term)")
    if "val_loss" in log.columns:
        val = _val_rows(log, "val_loss")
        if len(val):
            ax.plot(val["iteration"], val["val_loss"], color="C1", marker="o", linewidth=1.5,
                    label="val loss (main head)")
    ax.set_xlabel("iteration")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def _mark_best(ax: Axes, iterations: pd.Series, values: pd.Series, color: str, annotate: bool,
               at: int | None = None) -> tuple[int, float]:
    """A star on the highest value (the first, if tied), or on iteration `at`, annotated when asked."""
    matches = np.flatnonzero(iterations.to_numpy() == at) if at is not None else []
    best = int(matches[0]) if len(matches) else values.to_numpy().argmax()
    x, y = int(iterations.iloc[best]), float(values.iloc[best])
    ax.scatter([x], [y], marker="*", s=180, color=color, edgecolor="black", zorder=3)
    if annotate:
        right_half = x > (iterations.min() + iterations.max()) / 2
        ax.annotate(f"{'best.pt' if len(matches) else 'best'} {y:.4f}\nat iteration {x:,}", (x, y), xytext=(-14 if right_half else 14, -40),
                    textcoords="offset points", ha="right" if right_half else "left", va="top",
                    bbox=dict(boxstyle="round", facecolor="white", edgecolor="0.6"),
                    arrowprops=dict(arrowstyle="->", color="0.3"))
    return x, y


def score_curve(log: pd.DataFrame, metric: str = "miou", title: str | None = None,
                best_iteration: int | None = None) -> Figure:
    """Figure 2: a validation score (mIoU, or the challenge's "fscore") against iteration, best.pt starred.

    The star sits on `best_iteration` (the iteration best.pt holds, whichever score chose it), else on the best value.
    """
    label = SCORE_LABELS.get(metric, metric)
    val = _val_rows(log, metric)
    if val.empty:
        raise ValueError(f"log has no validation rows with a {label}")
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(val["iteration"], val[metric], color="C2", marker="o", linewidth=1.5, label=f"val {label}")
    x, y = _mark_best(ax, val["iteration"], val[metric], "gold", annotate=True, at=best_iteration)
    y = float(val[metric].max())
    low = float(val[metric].min())
    ax.set_ylim(max(0.0, low - 0.1 * (y - low) - 0.05), min(1.0, y + 0.05) if y < 0.95 else 1.0)
    ax.set_xlabel("iteration")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(label)
    ax.set_title(title or f"Validation {label}")
    ax.grid(True, alpha=0.3)
    return fig


def miou_curve(log: pd.DataFrame, title: str = "Validation mIoU") -> Figure:
    """Figure 2 of the seed report: validation mIoU against iteration, the best iteration starred."""
    return score_curve(log, "miou", title)


def runs_overlay(logs: Mapping[str, pd.DataFrame], metric: str = "miou", title: str | None = None) -> Figure:
    """One validation curve of `metric` per run (label -> log.csv frame) on shared axes, each run's best starred."""
    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.subplots()
    for k, (label, log) in enumerate(logs.items()):
        val = _val_rows(log, metric)
        color = f"C{k % 10}"
        if val.empty:
            continue
        best = val[metric].max()
        ax.plot(val["iteration"], val[metric], color=color, marker="o", markersize=4, linewidth=1.5,
                label=f"{label} (best {best:.4f})")
        _mark_best(ax, val["iteration"], val[metric], color, annotate=False)
    ax.set_xlabel("iteration")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(SCORE_LABELS.get(metric, metric))
    ax.set_title(title or f"Validation {SCORE_LABELS.get(metric, metric)} of {len(logs)} runs")
    ax.grid(True, alpha=0.3)
    fig.legend(loc="outside lower center", fontsize="small", frameon=False)
    return fig


def _class_bars(ax: Axes, scores: np.ndarray, names: Sequence[str], mean: float, mean_label: str) -> None:
    """Horizontal palette-coloured bars, one per class, each labelled with its score (n/a for none)."""
    colors = PALETTE[: len(scores)] / 255
    defined = ~np.isnan(scores)
    bars = ax.barh(np.arange(len(scores)), np.where(defined, scores, 0.0), color=colors, edgecolor="black",
                   linewidth=0.6)
    ax.bar_label(bars, labels=[f"{s:.3f}" if d else "n/a" for s, d in zip(scores, defined)], padding=2,
                 fontsize="small")
    if not np.isnan(mean):
        ax.axvline(mean, color="0.3", linestyle="--", linewidth=1, label=f"{mean_label} {mean:.4f}")
        ax.legend(loc="lower right", fontsize="small")
    ax.set_yticks(np.arange(len(scores)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.15)
    ax.grid(True, axis="x", alpha=0.3)


def class_scores_chart(
    iou: np.ndarray,
    f1: np.ndarray | None = None,
    class_names: Sequence[str] = CLASS_TITLES,
    title: str = "Per-class scores",
    fscore: np.ndarray | None = None,
) -> Figure:
    """Per-class IoU (and F1 beside it) as palette-coloured bars, with the mean IoU and mean F1 marked.

    mIoU is the mean over the classes that have a score (mmsegmentation); mean F1 leaves background out (the papers').
    `fscore`, the challenge's per-class F (each class's mean F over the images that hold it), comes first when given.
    """
    iou = np.asarray(iou, dtype=np.float64)
    panels = [("IoU", iou, _nanmean(iou), "mIoU")]
    if fscore is not None:
        fscore = np.asarray(fscore, dtype=np.float64)
        panels.insert(0, ("F-score (per image, by class)", fscore, _nanmean(fscore), "mean over classes"))
    if f1 is not None:
        f1 = np.asarray(f1, dtype=np.float64)
        panels.append(("F1", f1, _nanmean(f1[1:]), "mean F1 (no background)"))
    fig = Figure(figsize=(4.2 * len(panels) + 1.5, 6.5), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (name, scores, mean, mean_label) in zip(axes, panels):
        _class_bars(ax, scores, [f"{c} {n}" for c, n in enumerate(class_names)], mean, mean_label)
        ax.set_xlabel(name)
    fig.suptitle(title)
    return fig


def _nanmean(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


def row_normalized(matrix: ConfusionMatrix | np.ndarray | torch.Tensor) -> np.ndarray:
    """Confusion counts divided by their row sums (share of each true class's pixels); rows without pixels NaN."""
    counts = getattr(matrix, "matrix", matrix)  # a ConfusionMatrix holds its counts as a tensor
    counts = np.asarray(counts.cpu() if hasattr(counts, "cpu") else counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(totals > 0, counts / totals, np.nan)


def confusion_matrix_chart(
    matrix: ConfusionMatrix | np.ndarray | torch.Tensor,
    class_names: Sequence[str] = CLASS_TITLES,
    title: str = "Confusion matrix (each row: where a true class's pixels went)",
) -> Figure:
    """Row-normalised confusion matrix as a heatmap with class names, each share of at least 0.01 written in."""
    shares = row_normalized(matrix)
    n = len(shares)
    fig = Figure(figsize=(0.45 * n + 2.8, 0.45 * n + 2.0), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(shares), cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_facecolor("0.85")  # rows of classes with no true pixels stay grey
    for (row, col), share in np.ndenumerate(shares):
        if share >= 0.005:
            text = "1" if round(share, 2) >= 1 else f"{share:.2f}".lstrip("0")
            ax.text(col, row, text, ha="center", va="center", fontsize=6.5, color="white" if share > 0.5 else "black")
    for row in np.flatnonzero(np.isnan(shares).all(axis=1)):
        ax.text((n - 1) / 2, row, "no true pixels of this class", ha="center", va="center", fontsize=7, color="0.3")
    names = [f"{c} {name}" for c, name in enumerate(class_names)]
    ax.set_xticks(np.arange(n), names, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticks(np.arange(n), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class's pixels")
    return fig


def prediction_grid(
    samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], titles: Sequence[str] | None = None
) -> Figure:
    """Rows of image / ground truth / prediction / errors for (image, truth, prediction) triples, with a legend.

    Images as datasets yield them (float 3×H×W in [0, 1]) or H×W×3 uint8; masks H×W class indices (255 ignore).
    """
    from faceparse_lib.visual.pictures import ERROR_COLOR, IGNORE_SHADE, errors_panel, to_mask, to_uint8_image

    rows = []
    for image, truth, pred in samples:
        picture, truth, pred = to_uint8_image(image), to_mask(truth), to_mask(pred)
        rows.append((picture, colorize(truth), colorize(pred), errors_panel(picture, truth, pred)))
    fig = _picture_rows(rows, ("image", "ground truth", "prediction", "errors"), titles, (10, 2.6 * len(rows) + 1.3))
    extra = [Patch(facecolor=ERROR_COLOR / 255, edgecolor="0.5", label=ERROR_LABEL),
             Patch(facecolor=IGNORE_SHADE / 255, edgecolor="0.5", label=IGNORE_LABEL)]
    fig.legend(handles=class_legend_handles(CLASS_TITLES) + extra, loc="outside lower center", ncol=6, fontsize="small",
               frameon=False)
    return fig
