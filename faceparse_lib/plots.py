"""Figures for notebooks and the report; each function returns a matplotlib Figure and saves nothing."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from faceparse_lib.classes import CLASSES, PALETTE, colorize


def class_legend_handles() -> list[Patch]:
    """One coloured patch per class, for a legend."""
    return [Patch(facecolor=PALETTE[c] / 255, edgecolor="0.5", label=f"{c} {name}") for c, name in enumerate(CLASSES)]


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend the colourised mask over an H×W×3 uint8 image."""
    blended = (1 - alpha) * image.astype(np.float32) + alpha * colorize(mask).astype(np.float32)
    return blended.round().astype(np.uint8)


def sample_grid(samples: Sequence[tuple[np.ndarray, np.ndarray]], titles: Sequence[str] | None = None) -> Figure:
    """Rows of image / colourised mask / overlay for (H×W×3 uint8 image, H×W mask) pairs, with a class legend."""
    n = len(samples)
    fig = Figure(figsize=(9, 3 * n + 0.9), layout="constrained")
    axes = fig.subplots(n, 3, squeeze=False)
    for row, (image, mask) in enumerate(samples):
        mask = np.asarray(mask)
        for ax, picture, label in zip(axes[row], (image, colorize(mask), overlay(image, mask)), ("image", "mask", "overlay")):
            ax.imshow(picture, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(label)
        if titles is not None:
            axes[row, 0].set_ylabel(titles[row])
    fig.legend(handles=class_legend_handles(), loc="outside lower center", ncol=5, fontsize="small", frameon=False)
    return fig
