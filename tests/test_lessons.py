"""The teaching figures: each shows the numbers the kit computes elsewhere, not numbers of its own."""

import numpy as np
import pytest
import torch

from faceparse_lib.data.rules import RULE_SETS
from faceparse_lib.report.tables import parts_of_model
from faceparse_lib.training.config import TrainConfig, lr_at
from faceparse_lib.visual import lessons
from faceparse_lib.visual.pictures import image_fscore, image_miou


def test_the_schedule_figure_plots_lr_at_with_its_warm_up():
    cfg = TrainConfig.preset("challenge")
    line = lessons.learning_rate_schedule(cfg).axes[0].lines[0]
    steps, rates = line.get_xdata(), line.get_ydata()
    assert rates == pytest.approx([lr_at(cfg, int(s)) for s in steps])
    assert max(rates) == pytest.approx(cfg.lr) and rates[0] < rates[np.searchsorted(steps, cfg.warmup_iterations)]


def test_the_budget_figure_stacks_the_models_parts_against_the_cap():
    parts = [(part, count) for part, _, count in parts_of_model("unet_mnv3s")]
    cap = RULE_SETS["challenge"].max_parameters
    fig = lessons.parameter_budget(parts, cap, "unet_mnv3s")
    ax = fig.axes[0]
    widths = [patch.get_width() for patch in ax.patches]
    assert widths == [count for _, count in parts]
    assert f"{sum(widths):,} parameters ({100 * sum(widths) / cap:.0f} % of the cap)" in ax.get_title()
    assert ax.lines[0].get_xdata()[0] == cap


def test_the_f_and_iou_figure_gives_the_images_own_scores():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 6, size=(24, 24)).astype(np.uint8)
    prediction = np.where(rng.random((24, 24)) < 0.3, 0, truth).astype(np.uint8)
    prediction[truth == 5] = 4  # class 5 missed entirely: 0 in both scores
    prediction[0, :4] = 7  # a class the truth lacks: no bar (the F-score skips it), but the mIoU counts it
    ax = lessons.fscore_and_iou(torch.from_numpy(truth), prediction).axes[0]  # tensors, as datasets give them
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert f"{image_fscore(truth, prediction):.3f}" in labels[0]
    assert f"{image_miou(truth, prediction):.3f}" in labels[1]
    f_bars, iou_bars = ax.containers
    f, iou = np.array([b.get_height() for b in f_bars]), np.array([b.get_height() for b in iou_bars])
    assert len(f) == 6 and f[5] == iou[5] == 0
    assert f == pytest.approx(2 * iou / (1 + iou), abs=1e-6)  # the identity the figure teaches


def test_the_augmentation_figure_shows_the_original_and_each_draw():
    from faceparse_lib.training.loop import training_augmentation

    image = np.full((64, 64, 3), 128, dtype=np.uint8)
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[:, :32] = 4
    cfg = TrainConfig.preset("challenge", crop_size=48)
    state = torch.random.get_rng_state()
    fig = lessons.augmentation_samples(image, mask, training_augmentation(cfg), count=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # the notebook's own random state is left alone
    assert len(fig.axes) == 8 and [ax.get_title() for ax in fig.axes[:4]] == ["original", "draw 1", "draw 2", "draw 3"]
    assert fig.axes[1].images[0].get_array().shape[:2] == (48, 48)  # a draw is a crop, as training sees it
    assert fig.axes[0].images[0].get_array().shape[:2] == (64, 64)


def test_the_loss_share_figure_shows_pixel_shares_against_weighted_shares():
    from faceparse_lib.data.stats import class_weights

    pixels = np.array([10_000, 3_000, 500, 20] + [100] * 15)
    weights = class_weights(pixels, "log2")
    ax = lessons.loss_shares(pixels, weights, "log2").axes[0]
    plain, weighted = ([b.get_width() for b in bars] for bars in ax.containers)
    assert sum(plain) == pytest.approx(1) and sum(weighted) == pytest.approx(1)
    assert plain[0] == pytest.approx(10_000 / pixels.sum())  # the largest class first, its pixel share
    expected = pixels * weights.numpy() / (pixels * weights.numpy()).sum()
    assert weighted[-1] == pytest.approx(expected[3]) and weighted[-1] > plain[-1]  # the rarest gains
    with pytest.raises(ValueError, match="19 pixel counts but 3 weights"):
        lessons.loss_shares(pixels, [1.0, 2.0, 3.0])


def test_the_overfitting_figure_marks_where_the_loss_and_the_score_are_best():
    import pandas as pd

    rows = [dict(kind="train", iteration=i, loss=2.0 / (1 + i / 100), loss_out=1.5 / (1 + i / 100)) for i in range(50, 1001, 50)]
    rows += [dict(kind="val", iteration=i, val_loss=loss, fscore=f)
             for i, loss, f in ((250, 1.2, 0.60), (500, 0.9, 0.70), (750, 1.0, 0.74), (1000, 1.1, 0.73))]
    fig = lessons.overfitting(pd.DataFrame(rows), "fscore")
    ax, score = fig.axes
    assert "loss lowest at 500" in ax.get_title() and "best at 750" in ax.get_title()
    assert list(ax.lines[0].get_ydata()) == [r["loss_out"] for r in rows if r["kind"] == "train"]  # the main head
    assert list(score.lines[0].get_ydata()) == [0.60, 0.70, 0.74, 0.73]
    with pytest.raises(ValueError, match="no validation rows"):
        lessons.overfitting(pd.DataFrame(rows[:3]), "fscore")


def test_the_augmentation_figure_resizes_first_as_training_does():
    from faceparse_lib.data.batches import resize_pair
    from faceparse_lib.training.loop import training_augmentation

    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[:, :20] = 4
    cfg = TrainConfig.preset("challenge", crop_size=32, flip_p=0.0)  # the crop is the whole resized face
    fig = lessons.augmentation_samples(image, mask, training_augmentation(cfg), count=1, input_size=32)
    _, expected = resize_pair(torch.from_numpy(image).permute(2, 0, 1).float(), torch.from_numpy(mask), 32)
    shown = fig.axes[3].images[0].get_array()  # draw 1's mask, coloured
    assert shown.shape[:2] == (32, 32)
    assert np.array_equal(np.all(shown == shown[0, 0], axis=-1), expected.numpy() == 4)
