"""The challenge's per-image F-score against a direct transcription of its rule."""

import numpy as np
import pytest
import torch

from faceparse_lib.evaluation.fscore import FScore, image_fscores
from faceparse_lib.evaluation.metrics import ConfusionMatrix, confusion_counts


def challenge_rule(pred: np.ndarray, truth: np.ndarray) -> float:
    """The course page's rule, written out class by class: mean F over the classes present in the ground truth."""
    scores = []
    for c in np.unique(truth):
        tp = np.sum((pred == c) & (truth == c))
        fp = np.sum((pred == c) & (truth != c))
        fn = np.sum((pred != c) & (truth == c))
        precision = tp / (tp + fp + 1e-7)
        recall = tp / (tp + fn + 1e-7)
        scores.append(2 * precision * recall / (precision + recall + 1e-7))
    return float(np.mean(scores))


def random_masks(rng, n=12, size=(24, 20)):
    """Masks using a random subset of the classes each (so many classes are absent), predictions partly right."""
    truths, preds = [], []
    for _ in range(n):
        classes = rng.choice(19, size=rng.integers(1, 8), replace=False)
        truth = rng.choice(classes, size=size)
        pred = np.where(rng.random(size) < 0.6, truth, rng.integers(0, 19, size=size))  # wrong pixels of any class
        truths.append(truth), preds.append(pred)
    return np.stack(preds), np.stack(truths)


def test_fscore_matches_the_challenge_rule_image_by_image():
    rng = np.random.default_rng(0)
    preds, truths = random_masks(rng)
    meter = FScore()
    meter.update(torch.from_numpy(preds[:5]), torch.from_numpy(truths[:5]))
    meter.update(preds[5:], truths[5:])
    expected = [challenge_rule(p, t) for p, t in zip(preds, truths)]
    np.testing.assert_allclose(meter.scores, expected, rtol=0, atol=1e-9)
    assert meter.mean() == pytest.approx(np.mean(expected), abs=1e-9)


def test_a_class_only_the_prediction_has_is_not_scored_but_lowers_recall():
    truth = np.zeros((4, 4), dtype=np.int64)
    pred = truth.copy()
    pred[0, :2] = 13  # two background pixels predicted as hair, a class the truth does not hold
    score = image_fscores(confusion_counts(torch.from_numpy(pred)[None], torch.from_numpy(truth)[None], 19).numpy())[0]
    recall = 14 / 16
    assert score == pytest.approx(2 * 1.0 * recall / (1.0 + recall), abs=1e-6)  # one class scored, not two


def test_logits_are_scored_by_their_argmax_and_ignore_pixels_are_left_out():
    truth = torch.tensor([[[0, 1], [1, 255]]])
    logits = torch.zeros(1, 19, 2, 2)
    logits[0, 1] = 1.0  # predicts skin everywhere
    meter = FScore()
    meter.update(logits, truth)
    expected = challenge_rule(np.array([1, 1, 1]), np.array([0, 1, 1]))
    assert meter.mean() == pytest.approx(expected, abs=1e-9)


def test_per_class_fscore_averages_only_the_images_holding_the_class():
    meter = FScore()
    meter.update(np.array([[2, 2], [0, 0]]), np.array([[2, 2], [0, 0]]))  # nose right
    meter.update(np.array([[0, 0], [0, 0]]), np.array([[0, 0], [0, 1]]))  # skin missed
    per_class = meter.per_class()
    assert per_class[2] == pytest.approx(1.0, abs=1e-6) and per_class[1] == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(per_class[13])  # hair is in no image


def test_state_dict_round_trips_and_bad_labels_name_the_mask():
    meter = FScore()
    meter.update(np.array([[1, 2]]), np.array([[1, 1]]))
    again = FScore.from_state_dict(meter.state_dict())
    np.testing.assert_array_equal(again.scores, meter.scores)
    with pytest.raises(ValueError, match="target holds label 23 outside 0..18 and 255"):
        meter.update(np.array([[0]]), np.array([[23]]))


def test_logits_of_another_class_count_and_float_index_masks_are_refused():
    import torch

    target = torch.zeros(1, 4, 4, dtype=torch.long)
    meter = FScore()
    with pytest.raises(ValueError, match=r"logits of shape \(1, 5, 4, 4\) do not fit.*N×19×H×W"):
        meter.update(torch.randn(1, 5, 4, 4), target)
    with pytest.raises(ValueError, match="floats shaped like the target: class indices must be integers"):
        meter.update(torch.zeros(1, 4, 4), target)
    assert len(meter) == 0
    meter.update(torch.randn(1, 19, 4, 4), target)
    meter.update(torch.zeros(4, 4, dtype=torch.long), torch.zeros(4, 4, dtype=torch.long))
    assert len(meter) == 2 and meter.scores[1] == pytest.approx(1.0, abs=1e-6)


def test_both_meters_count_from_one_primitive_image_by_image():
    rng = np.random.default_rng(3)
    truth = torch.from_numpy(rng.integers(0, 19, (3, 8, 8), dtype=np.uint8))
    truth[0, 0, 0] = 255
    pred = torch.from_numpy(rng.integers(0, 19, (3, 8, 8)))
    counts = confusion_counts(pred, truth, 19)
    for i in range(3):  # each image's own matrix, its ignore pixel dropped
        one = ConfusionMatrix()
        one.update(pred[i], truth[i])
        assert torch.equal(counts[i], one.matrix)
    meter, matrix = FScore(), ConfusionMatrix()
    meter.update(pred, truth)
    matrix.update(pred, truth)
    assert np.array_equal(meter.confusions, counts.numpy()) and torch.equal(matrix.matrix, counts.sum(0))
    assert int(counts.sum()) == 3 * 64 - 1
