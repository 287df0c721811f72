"""Real photos that ship inside installed packages, for the face tests (nothing is downloaded)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # 512×512, one face at about row 70, column 175, 95 px


def grace_hopper() -> np.ndarray:
    """matplotlib's Grace Hopper sample (600×512, one face), or skip where the build has no sample data."""
    from matplotlib import cbook

    try:
        with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as picture:
            return np.array(picture.convert("RGB"))
    except (OSError, ValueError):
        pytest.skip("this matplotlib ships without its sample data")


def landscape() -> np.ndarray:
    from skimage import data

    return data.rocket()  # a launch pad under the sky: no face


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two photos joined left to right at the first's height."""
    height = left.shape[0]
    width = round(right.shape[1] * height / right.shape[0])
    right = np.asarray(Image.fromarray(right).resize((width, height), Image.Resampling.BILINEAR))
    return np.concatenate([left, right], axis=1)
