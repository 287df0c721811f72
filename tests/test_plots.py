import numpy as np
from matplotlib.figure import Figure

from faceparse_lib.classes import PALETTE
from faceparse_lib.plots import class_legend_handles, overlay, sample_grid


def test_overlay_blends_mask_colour_into_the_image():
    image = np.zeros((2, 2, 3), dtype=np.uint8)
    mask = np.full((2, 2), 13, dtype=np.uint8)
    assert (overlay(image, mask, alpha=1.0) == PALETTE[13]).all()
    assert (overlay(image, mask, alpha=0.0) == 0).all()


def test_sample_grid_shows_image_mask_and_overlay_per_sample_with_a_legend():
    rng = np.random.default_rng(0)
    samples = [(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), rng.integers(0, 19, (8, 8))) for _ in range(2)]
    fig = sample_grid(samples, titles=["a", "b"])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 6
    assert fig.axes[1].images[0].get_array().shape == (8, 8, 3)
    assert len(fig.legends[0].legend_handles) == len(class_legend_handles()) == 19
