import numpy as np
import pytest
import torch
import torch.nn.functional as F
from segmentation_models_pytorch.losses import DiceLoss

from faceparse_lib.classes import IGNORE_INDEX, NUM_CLASSES
from faceparse_lib.training.losses import SegmentationLoss


def random_batch(seed: int = 0, classes: int = NUM_CLASSES, size: int = 8):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, classes, size, size, generator=gen)
    target = torch.randint(0, classes, (2, size, size), generator=gen)
    return logits, target


def test_without_weights_it_is_torch_cross_entropy():
    logits, target = random_batch()
    target[0, :3] = IGNORE_INDEX
    expected = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)
    assert torch.allclose(SegmentationLoss()(logits, target), expected)


def test_weighted_loss_divides_by_non_ignored_pixels_not_by_the_weight_sum():
    logits, target = random_batch()
    target[1, 2:] = IGNORE_INDEX
    weights = torch.linspace(1.0, 12.0, NUM_CLASSES)
    valid = target != IGNORE_INDEX
    picked = -logits.log_softmax(1).gather(1, target.clamp(max=NUM_CLASSES - 1)[:, None])[:, 0]
    expected = (weights[target[valid]] * picked[valid]).sum() / valid.sum()
    loss = SegmentationLoss(weights)(logits, target)
    assert torch.allclose(loss, expected)
    # torch's reduction="mean" would divide by the weight sum instead: a different number.
    assert not torch.allclose(loss, F.cross_entropy(logits, target, weight=weights, ignore_index=IGNORE_INDEX))


def test_up_weighting_the_misclassified_class_raises_the_loss():
    # Class 0 pixels are predicted right, class 1 pixels wrongly (as class 0).
    target = torch.tensor([[[0, 0], [1, 1]]])
    logits = torch.zeros(1, 3, 2, 2)
    logits[:, 0] = 4.0
    even = SegmentationLoss([1.0, 1.0, 1.0])(logits, target)
    wrong_up = SegmentationLoss([1.0, 5.0, 1.0])(logits, target)
    right_up = SegmentationLoss([5.0, 1.0, 1.0])(logits, target)
    assert wrong_up > right_up > even


def test_all_ignored_batch_gives_zero_loss_and_zero_gradients():
    logits, _ = random_batch()
    logits.requires_grad_(True)
    target = torch.full((2, 8, 8), IGNORE_INDEX)
    loss = SegmentationLoss(np.ones(NUM_CLASSES), dice_weight=1.0)({"out": logits, "aux": logits * 2}, target)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(logits.grad).all() and not logits.grad.any()


def test_wrong_number_of_weights_is_refused():
    logits, target = random_batch()
    with pytest.raises(ValueError, match="18 entries but the logits have 19 classes"):
        SegmentationLoss([1.0] * 18)(logits, target)


@pytest.mark.parametrize("weights", [[1.0, -1.0], [1.0, float("nan")], [[1.0, 2.0]], []])
def test_weights_must_be_a_flat_list_of_finite_non_negative_numbers(weights):
    with pytest.raises(ValueError, match="class_weights"):
        SegmentationLoss(weights)


def test_aux_term_is_counted_with_its_weight():
    logits, target = random_batch(0)
    aux, _ = random_batch(1)
    weights = torch.rand(NUM_CLASSES) + 0.5
    main_only = SegmentationLoss(weights)(logits, target)
    aux_only = SegmentationLoss(weights)(aux, target)
    total = SegmentationLoss(weights, aux_weight=0.25)({"out": logits, "aux": aux}, target)
    assert torch.allclose(total, main_only + 0.25 * aux_only)
    assert torch.allclose(SegmentationLoss(weights, aux_weight=0.0)({"out": logits, "aux": aux}, target), main_only)


def test_low_resolution_aux_logits_are_upsampled_to_the_target():
    logits, target = random_batch(0, size=16)
    aux, _ = random_batch(1, size=8)
    upsampled = F.interpolate(aux, size=(16, 16), mode="bilinear", align_corners=False)
    loss = SegmentationLoss(aux_weight=1.0)
    assert torch.allclose(loss({"out": logits, "aux": aux}, target), loss({"out": logits, "aux": upsampled}, target))


def test_dice_term_is_smp_dice_times_its_weight():
    logits, target = random_batch()
    target[0, 0] = IGNORE_INDEX
    dice = DiceLoss("multiclass", from_logits=True, ignore_index=IGNORE_INDEX)(logits, target)
    with_dice = SegmentationLoss(dice_weight=0.5)(logits, target)
    assert torch.allclose(with_dice, SegmentationLoss()(logits, target) + 0.5 * dice)


def test_class_weights_follow_the_module_to_another_dtype_or_device():
    loss = SegmentationLoss([1.0, 2.0]).double()
    logits, target = random_batch(classes=2)
    assert loss(logits.double(), target).dtype == torch.float64
