"""The notebooks' exercises: each check passes the kit's reference and names the usual mistake."""

import numpy as np
import torch
from PIL import Image

from faceparse_lib.course import exercises as ex


def _fscore_over(classes_of):
    def fscore(truth, prediction):
        scores = []
        for c in classes_of(truth, prediction):
            tp = np.sum((truth == c) & (prediction == c))
            wrong = np.sum((truth == c) != (prediction == c))
            scores.append(2 * tp / (2 * tp + wrong) if 2 * tp + wrong else 0.0)
        return float(np.mean(scores))
    return fscore


def test_every_reference_solution_passes_its_check():
    results = [ex.check_read_mask(ex.reference_read_mask), ex.check_class_weights(ex.reference_class_weights),
               ex.check_hflip(ex.reference_hflip), ex.check_image_fscore(ex.reference_image_fscore)]
    assert all(r.passed for r in results), [str(r) for r in results]
    assert all(str(r).split(": ")[1] == "correct" for r in results)


def test_a_student_written_solution_passes_too():
    # Written from the definitions, not with the kit: the checks compare behaviour, not code.
    assert ex.check_read_mask(lambda path: np.array(Image.open(path))).passed
    assert ex.check_class_weights(lambda n: np.log2(n.sum() / n)).passed
    swap = torch.arange(256)
    for a, b in ((4, 5), (6, 7), (8, 9)):
        swap[a], swap[b] = b, a
    assert ex.check_hflip(lambda image, mask: (image.flip(-1), swap[mask.flip(-1).long()].to(mask.dtype))).passed
    assert ex.check_image_fscore(_fscore_over(lambda t, p: np.unique(t))).passed


def test_the_usual_mistakes_fail_with_a_hint():
    luminance = ex.check_read_mask(lambda path: np.array(Image.open(path).convert("L")))
    assert not luminance.passed and "colours" in luminance.detail
    assert "H×W×3" in ex.check_read_mask(lambda path: np.array(Image.open(path).convert("RGB"))).detail
    natural = ex.check_class_weights(lambda n: np.log(n.sum() / n))
    assert not natural.passed and "natural log" in natural.detail
    unswapped = ex.check_hflip(lambda image, mask: (image.flip(-1), mask.flip(-1)))
    assert not unswapped.passed and "not swapped" in unswapped.detail
    assert "not mirrored" in ex.check_hflip(lambda image, mask: (image, mask.flip(-1))).detail
    every_class = ex.check_image_fscore(_fscore_over(lambda t, p: range(19)))
    union = ex.check_image_fscore(_fscore_over(lambda t, p: np.union1d(np.unique(t), np.unique(p))))
    for result in (every_class, union):
        assert not result.passed and "classes of the ground truth only" in result.detail
