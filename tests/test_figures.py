import numpy as np
from matplotlib.figure import Figure

from faceparse_lib.classes import PALETTE
from faceparse_lib.visual.figures import class_legend_handles, sample_grid
from faceparse_lib.classes import overlay


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


def test_a_hand_out_file_name_as_row_title_stays_within_its_row():
    rng = np.random.default_rng(0)
    samples = [(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), rng.integers(0, 19, (64, 64))) for _ in range(2)]
    name = "swapped: 0affdeff56de486d9ad18f40159242f6.png"
    fig = sample_grid(samples, titles=[name, "short\nF-score 0.812"])
    fig.canvas.draw()
    first, second = fig.axes[0], fig.axes[3]
    label = first.yaxis.label
    assert label.get_text().startswith("swapped: 0af") and label.get_text().endswith(".png") and "…" in label.get_text()
    box, row = label.get_window_extent(), first.get_window_extent()
    assert box.y0 >= row.y0 - 1 and box.y1 <= row.y1 + 1  # not into the next row
    assert second.yaxis.label.get_text() == "short\nF-score 0.812"  # each line is shortened on its own


# --- report figures ---

import matplotlib.colors as mcolors  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from fake_run import fake_log  # noqa: E402

from faceparse_lib.classes import CLASS_TITLES, NUM_CLASSES
from faceparse_lib.evaluation.metrics import ConfusionMatrix
from faceparse_lib.visual.figures import (
    class_scores_chart,
    confusion_matrix_chart,
    loss_curves,
    miou_curve,
    prediction_grid,
    row_normalized,
    runs_overlay,
)


def _render(fig: Figure) -> None:
    """Draw the figure, so layout or text errors surface as they would when saved."""
    fig.canvas.draw()


def test_loss_curves_compare_the_main_heads_train_and_val_loss_and_draw_the_total_apart():
    log = fake_log()
    fig = loss_curves(log)
    _render(fig)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    train, val = log[log["kind"] == "train"], log[log["kind"] == "val"]
    main, total, val_line = (lines["train loss (main head)"], lines["train total (every weighted term)"],
                             lines["val loss (main head)"])
    assert list(main.get_xdata()) == list(train["iteration"])
    assert np.allclose(main.get_ydata(), train["loss_out"])  # validation scores the main head: like with like
    assert np.allclose(total.get_ydata(), train["loss"]) and total.get_linestyle() == "--"
    assert list(val_line.get_xdata()) == list(val["iteration"])
    assert np.allclose(val_line.get_ydata(), val["val_loss"])
    assert ax.get_xlabel() == "iteration" and "loss" in ax.get_ylabel()


def test_miou_curve_stars_and_annotates_the_best_validation_row():
    log = fake_log(peak=100, best=0.7)
    fig = miou_curve(log)
    _render(fig)
    ax = fig.axes[0]
    val = log[log["kind"] == "val"]
    assert list(ax.get_lines()[0].get_xdata()) == list(val["iteration"])
    best = val.loc[val["miou"].idxmax()]
    assert ax.collections[0].get_offsets().tolist() == [[best["iteration"], pytest.approx(best["miou"])]]
    assert int(best["iteration"]) == 100
    assert "0.7000" in ax.texts[0].get_text() and "100" in ax.texts[0].get_text()


def test_the_curves_star_marks_best_pt_whichever_score_chose_it():
    from faceparse_lib.visual.figures import score_curve

    log = fake_log(peak=100, best=0.7)  # mIoU peaks at 100; say best.pt was chosen by the F-score at 150
    fig = score_curve(log, "miou", best_iteration=150)
    _render(fig)
    ax = fig.axes[0]
    val = log[log["kind"] == "val"].set_index("iteration")
    assert ax.collections[0].get_offsets().tolist() == [[150, pytest.approx(val.loc[150, "miou"])]]
    assert ax.texts[0].get_text().startswith("best.pt") and "150" in ax.texts[0].get_text()


def test_miou_curve_refuses_a_log_without_validation_rows():
    log = fake_log()
    with pytest.raises(ValueError, match="no validation rows"):
        miou_curve(log[log["kind"] == "train"])


def test_runs_overlay_draws_one_line_per_run_labelled_with_its_name_and_best():
    logs = {"weighted": fake_log(peak=150, best=0.6), "unweighted": fake_log(peak=50, best=0.5, seed=1)}
    fig = runs_overlay(logs)
    _render(fig)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0].startswith("weighted") and "0.6000" in labels[0]
    assert labels[1].startswith("unweighted") and "0.5000" in labels[1]
    assert [c.get_offsets().tolist()[0][0] for c in ax.collections] == [150, 50]


def test_class_scores_chart_colours_each_class_bar_with_its_palette_colour_and_an_edge():
    iou = np.linspace(0.1, 0.9, NUM_CLASSES)
    iou[14] = np.nan
    fig = class_scores_chart(iou, f1=2 * iou / (1 + iou))
    _render(fig)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        bars = ax.patches
        assert len(bars) == NUM_CLASSES
        for c, bar in enumerate(bars):
            assert np.allclose(bar.get_facecolor()[:3], PALETTE[c] / 255)
            assert bar.get_linewidth() > 0 and mcolors.to_rgb(bar.get_edgecolor()) == (0, 0, 0)
    names = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert names == [f"{c} {n}" for c, n in enumerate(CLASS_TITLES)]
    assert fig.axes[0].patches[3].get_width() == pytest.approx(iou[3])
    assert fig.axes[0].patches[14].get_width() == 0  # no score: no bar, labelled n/a
    assert "n/a" in [t.get_text() for t in fig.axes[0].texts]
    assert fig.axes[0].get_xlabel() == "IoU" and fig.axes[1].get_xlabel() == "F1"


def test_class_scores_chart_without_f1_has_one_panel():
    fig = class_scores_chart(np.full(NUM_CLASSES, 0.5))
    assert len(fig.axes) == 1


def _matrix() -> ConfusionMatrix:
    matrix = ConfusionMatrix()
    truth = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 1]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 2, 0, 1]])
    matrix.update(pred, truth)
    return matrix


def test_row_normalized_rows_sum_to_one_and_classes_without_pixels_are_nan():
    shares = row_normalized(_matrix())
    assert np.allclose(shares[:3].sum(axis=1), 1.0)
    assert shares[0, 1] == pytest.approx(0.5) and shares[2, 0] == pytest.approx(1 / 3)
    assert np.isnan(shares[3:]).all()


def test_confusion_matrix_chart_shows_row_shares_with_class_names_on_both_axes():
    fig = confusion_matrix_chart(_matrix())
    _render(fig)
    ax = fig.axes[0]
    shown = ax.images[0].get_array()
    assert np.allclose(shown[:3].sum(axis=1), 1.0)
    assert shown.mask[3:].all()
    names = [f"{c} {n}" for c, n in enumerate(CLASS_TITLES)]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    assert ax.get_ylabel() == "true class" and ax.get_xlabel() == "predicted class"
    assert ".50" in [t.get_text() for t in ax.texts]
    assert len(fig.axes) == 2  # the colour bar


def test_prediction_grid_shows_image_truth_prediction_and_errors_per_sample():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, NUM_CLASSES, (8, 8))
    pred = truth.copy()
    pred[0, 0] = (truth[0, 0] + 1) % NUM_CLASSES
    image = rng.random((3, 8, 8), dtype=np.float32)
    fig = prediction_grid([(image, truth, pred), (image, truth, truth)], titles=["a", "b"])
    _render(fig)
    assert len(fig.axes) == 8
    assert [ax.get_title() for ax in fig.axes[:4]] == ["image", "ground truth", "prediction", "errors"]
    errors = fig.axes[3].images[0].get_array()
    assert (errors[0, 0] == [255, 0, 0]).all()
    assert (fig.axes[7].images[0].get_array() != [255, 0, 0]).any(axis=-1).all()  # a perfect prediction: no red
    assert (fig.axes[1].images[0].get_array() == PALETTE[truth]).all()
    assert len(fig.legends[0].legend_handles) == NUM_CLASSES + 2
