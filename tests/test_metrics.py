import json
import math
import multiprocessing

import numpy as np
import pytest
import torch
import torch.distributed as dist

from faceparse_lib.classes import CLASSES, IGNORE_INDEX, NUM_CLASSES
from faceparse_lib.evaluation.metrics import ConfusionMatrix, _pair_counts_numpy, _pair_counts_torch

# A hand-checked case with 5 classes: 0..2 are true somewhere, 3 is predicted but never true, 4 is absent from
# both, and the two ignored pixels carry predictions (3 and 4) that must not count.
TARGET = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, IGNORE_INDEX, IGNORE_INDEX])
PRED = torch.tensor([0, 0, 1, 1, 3, 2, 2, 0, 3, 4])
# rows: true class, columns: predicted class
MATRIX = [[2, 1, 0, 0, 0], [0, 1, 0, 1, 0], [1, 0, 2, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
NAN = math.nan
# I = [2, 1, 2, 0, 0], L (true) = [3, 2, 3, 0, 0], P (predicted) = [3, 2, 2, 1, 0]
IOU = [2 / 4, 1 / 3, 2 / 3, 0.0, NAN]  # I / (P + L - I)
F1 = [4 / 6, 2 / 4, 4 / 5, 0.0, NAN]  # 2I / (P + L)
PRECISION = [2 / 3, 1 / 2, 2 / 2, 0.0, NAN]
RECALL = [2 / 3, 1 / 2, 2 / 3, NAN, NAN]


def hand_case() -> ConfusionMatrix:
    metric = ConfusionMatrix(num_classes=5)
    metric.update(PRED, TARGET)
    return metric


def one_hot_logits(pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Logits whose argmax over dim -3 is `pred` (H×W -> C×H×W, N×H×W -> N×C×H×W)."""
    logits = torch.nn.functional.one_hot(pred, num_classes).float() + 0.1 * torch.rand(*pred.shape, num_classes)
    return logits.movedim(-1, -3)


def test_hand_case_matrix_and_per_class_scores():
    metric = hand_case()
    assert metric.matrix.tolist() == MATRIX
    np.testing.assert_allclose(metric.iou(), IOU)
    np.testing.assert_allclose(metric.f1(), F1)
    np.testing.assert_allclose(metric.precision(), PRECISION)
    np.testing.assert_allclose(metric.recall(), RECALL)
    np.testing.assert_allclose(metric.accuracy(), RECALL)  # mmsegmentation's per-class "Acc"
    assert metric.pixel_accuracy() == pytest.approx(5 / 8)


def test_miou_leaves_out_a_class_absent_from_truth_and_prediction_but_keeps_a_false_positive_class():
    assert hand_case().miou() == pytest.approx((2 / 4 + 1 / 3 + 2 / 3 + 0.0) / 4)


def test_mean_f1_skips_background_and_classes_absent_from_both():
    metric = hand_case()
    assert metric.mean_f1() == pytest.approx((2 / 4 + 4 / 5 + 0.0) / 3)
    assert metric.mean_f1(include_background=True) == pytest.approx((4 / 6 + 2 / 4 + 4 / 5 + 0.0) / 4)


def test_ignored_pixels_count_nowhere_whatever_was_predicted():
    metric = ConfusionMatrix(num_classes=3)
    metric.update(torch.tensor([[0, 1], [2, 2]]), torch.tensor([[IGNORE_INDEX] * 2] * 2))
    assert metric.matrix.sum() == 0
    assert math.isnan(metric.miou()) and math.isnan(metric.mean_f1()) and math.isnan(metric.pixel_accuracy())


def test_table_shows_nan_for_an_absent_class_and_zero_for_a_false_positive_class():
    table = hand_case().table()
    assert list(table.index) == ["0", "1", "2", "3", "4"]
    assert table.loc["4"][["IoU", "F1", "precision", "recall"]].isna().all()
    assert table.loc["3", "IoU"] == 0 and table.loc["3", "F1"] == 0 and math.isnan(table.loc["3", "recall"])
    assert table["true_pixels"].tolist() == [3, 2, 3, 0, 0]
    assert table["pred_pixels"].tolist() == [3, 2, 2, 1, 0]


def test_table_uses_the_kit_class_names_by_default():
    metric = ConfusionMatrix()
    metric.update(torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long))
    table = metric.table()
    assert tuple(table.index) == CLASSES
    assert table.loc["background", "IoU"] == 1.0 and table.loc["skin"].drop(["true_pixels", "pred_pixels"]).isna().all()


def test_logits_batched_and_single_give_the_class_index_result():
    target = TARGET.reshape(2, 5)
    batched, single, indices = ConfusionMatrix(5), ConfusionMatrix(5), ConfusionMatrix(5)
    batched.update(one_hot_logits(PRED.reshape(1, 2, 5), 5), target.reshape(1, 2, 5))
    single.update(one_hot_logits(PRED.reshape(2, 5), 5), target)
    indices.update(PRED.reshape(2, 5).numpy(), target.to(torch.uint8).numpy())
    for metric in (batched, single, indices):
        assert metric.matrix.tolist() == MATRIX


def test_updates_accumulate_over_batches():
    metric = ConfusionMatrix(5)
    metric.update(PRED[:4], TARGET[:4])
    metric.update(PRED[4:], TARGET[4:])
    assert metric.matrix.tolist() == MATRIX
    metric.reset()
    assert metric.matrix.sum() == 0


@pytest.mark.parametrize(
    ("pred", "target", "message"),
    [
        (torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long), r"pred of shape \(2, 3\) does not"),
        (torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), r"logits of shape \(1, 4, 2, 2\) do not fit"),
        (torch.zeros(2, 2), torch.zeros(2, 2), "target has dtype torch.float32"),
        (torch.tensor([0, 5]), torch.tensor([0, 1]), "pred holds label 5 outside 0..4"),
        (torch.tensor([0, IGNORE_INDEX]), torch.tensor([0, 1]), "pred holds label 255 outside 0..4"),
        (torch.tensor([0, 1, 1]), torch.tensor([0, 23, 9]), "target holds labels 9, 23 outside 0..4 and 255"),
        (torch.tensor([0, 1]), torch.tensor([0, 23], dtype=torch.uint8), "target holds label 23 outside 0..4 and 255"),
        (torch.tensor([0, 1]), torch.tensor([-1, 300]), "target holds labels -1, 300 outside 0..4 and 255"),
    ],
)
def test_bad_input_is_refused_and_counts_nothing(pred, target, message):
    metric = ConfusionMatrix(5)
    with pytest.raises(ValueError, match=message):
        metric.update(pred, target)
    assert metric.matrix.sum() == 0


def test_without_ignore_index_255_is_an_error_and_an_in_range_ignore_index_drops_that_class():
    with pytest.raises(ValueError, match=r"target holds label 255 outside 0\.\.4$"):
        ConfusionMatrix(5, ignore_index=None).update(torch.tensor([0]), torch.tensor([255], dtype=torch.uint8))
    metric = ConfusionMatrix(5, ignore_index=0)
    metric.update(PRED[:8], TARGET[:8])
    assert metric.matrix[0].sum() == 0 and metric.matrix[1:].tolist() == MATRIX[1:]


def test_merge_adds_counts_and_refuses_other_classes():
    first, second = ConfusionMatrix(5), ConfusionMatrix(5)
    first.update(PRED[:5], TARGET[:5])
    second.update(PRED[5:], TARGET[5:])
    assert first.merge(second).matrix.tolist() == MATRIX
    with pytest.raises(ValueError, match="cannot merge a matrix of 4 classes"):
        first.merge(ConfusionMatrix(4))


def test_state_dict_is_plain_json_and_restores_the_scores():
    metric = hand_case()
    state = json.loads(json.dumps(metric.state_dict()))
    restored = ConfusionMatrix.from_state_dict(state)
    assert restored.matrix.tolist() == MATRIX and restored.miou() == metric.miou()
    with pytest.raises(ValueError, match="does not fit 19 classes"):
        ConfusionMatrix().load_state_dict(state)


def test_all_reduce_without_a_process_group_changes_nothing():
    assert not dist.is_initialized()
    assert hand_case().all_reduce().matrix.tolist() == MATRIX


def _reduce_half(rank: int, store: str, results) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        metric = ConfusionMatrix(5)
        half = slice(0, 5) if rank == 0 else slice(5, 10)
        metric.update(PRED[half], TARGET[half])
        results.put((rank, metric.all_reduce().matrix.tolist()))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_all_reduce_sums_the_matrices_of_two_processes(tmp_path):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_reduce_half, args=(r, str(tmp_path / "store"), results)) for r in range(2)]
    for worker in workers:
        worker.start()
    gathered = dict(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert gathered == {0: MATRIX, 1: MATRIX}


def test_numpy_and_torch_pair_counts_agree_image_by_image():
    rows = torch.randint(0, 7, (3, 1000), dtype=torch.uint8)
    cols = torch.randint(0, 5, (3, 1000))
    expected = torch.zeros(3, 7, 5, dtype=torch.long)
    for i in range(3):
        for r, c in zip(rows[i].tolist(), cols[i].tolist()):
            expected[i, r, c] += 1
    assert torch.equal(_pair_counts_numpy(rows, cols, 5, 7), expected)
    assert torch.equal(_pair_counts_torch(rows, cols, 5, 7), expected)
    assert torch.equal(_pair_counts_numpy(rows[:1], cols[:1], 5, 7), expected[:1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_counts_on_the_gpu_stay_there_and_match_the_cpu():
    metric = ConfusionMatrix(5)
    metric.update(PRED.cuda(), TARGET.cuda())
    assert metric.matrix.device.type == "cuda" and metric.matrix.tolist() == MATRIX


def test_agrees_with_torchmetrics_on_random_data():
    from torchmetrics.classification import MulticlassConfusionMatrix, MulticlassF1Score, MulticlassJaccardIndex

    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, NUM_CLASSES, (3, 64, 64), generator=generator)
    target[torch.rand(target.shape, generator=generator) < 0.1] = IGNORE_INDEX
    target[target == 16] = 0  # a class absent from the truth ...
    logits = torch.randn(3, NUM_CLASSES, 64, 64, generator=generator)
    logits[:, 16] -= 100  # ... and from the prediction: left out of both means
    metric = ConfusionMatrix()
    metric.update(logits, target)
    pred = logits.argmax(1)
    kwargs = {"num_classes": NUM_CLASSES, "ignore_index": IGNORE_INDEX}
    assert torch.equal(metric.matrix, MulticlassConfusionMatrix(**kwargs)(pred, target))
    present = ~np.isnan(metric.iou())
    assert present.sum() == NUM_CLASSES - 1 and not present[16]
    iou = MulticlassJaccardIndex(average=None, **kwargs)(pred, target).numpy()
    f1 = MulticlassF1Score(average=None, **kwargs)(pred, target).numpy()
    np.testing.assert_allclose(metric.iou()[present], iou[present], rtol=1e-5)
    np.testing.assert_allclose(metric.f1()[present], f1[present], rtol=1e-5)
    assert metric.miou() == pytest.approx(float(MulticlassJaccardIndex(average="macro", **kwargs)(pred, target)))
    assert metric.mean_f1(include_background=True) == pytest.approx(
        float(MulticlassF1Score(average="macro", **kwargs)(pred, target))
    )


def test_tied_logits_pick_the_first_class_as_argmax_does():
    logits = torch.zeros(1, 5, 2, 2)
    logits[0, 2:4, 0, 0] = 1.0  # classes 2 and 3 tie at the top of one pixel
    metric = ConfusionMatrix(5)
    metric.update(logits, torch.zeros(1, 2, 2, dtype=torch.long))
    assert metric.matrix[0].tolist() == [3, 0, 1, 0, 0]
    assert torch.equal(logits.argmax(1).flatten().bincount(minlength=5), metric.matrix.sum(0))
