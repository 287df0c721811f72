"""The notebooks' "write it, then check it" exercises: each check runs the student's function beside the kit's own.

A notebook's exercise cell (tagged `exercise`, the only cells that may define a function) holds the student's
function, whose body starts as a call to the reference here, so Run all works before they write a line (and CI
runs the notebooks with the reference filled in). `check_*` compares on cases made here and returns a result
whose text says what is right or which case differs and what the usual mistake is. It never raises on a wrong
answer, so a notebook keeps running.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from faceparse_lib.classes import CLASSES, FLIP_PAIRS, NUM_CLASSES, mask_palette


@dataclass
class ExerciseResult:
    """Whether the student's function agreed with the kit's on every case, and what to say about it."""

    name: str
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {'correct' if self.passed else 'not yet'}: {self.detail}"


# --- the reference solutions (the kit's own functions, in the exercises' signatures) ---


def reference_read_mask(path: str | Path) -> np.ndarray:
    """Class indices of a palette PNG mask: its pixel values, not its colours."""
    from faceparse_lib.data.layout import read_mask

    return read_mask(path)


def reference_class_weights(pixels: np.ndarray) -> np.ndarray:
    """The seed report's rule, w_c = log2(N / n_c), for per-class pixel counts (every class present)."""
    from faceparse_lib.data.stats import class_weights

    return class_weights(np.asarray(pixels), "log2").numpy()


def reference_hflip(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror a C×H×W image and its H×W mask, swapping the left/right classes so a left eye stays a left eye."""
    from faceparse_lib.data.transforms import hflip

    return hflip(image, mask)


def reference_image_fscore(truth: np.ndarray, prediction: np.ndarray) -> float:
    """The challenge's F-score of one image: the mean over the classes in its ground truth of each class's F."""
    from faceparse_lib.visual.pictures import image_fscore

    return image_fscore(truth, prediction)


# --- the cases and the checks ---


def _face_mask(size: int = 32, seed: int = 0) -> np.ndarray:
    """A small random mask that holds every class: noise, with a strip of all 19 classes down its left side."""
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, NUM_CLASSES, size=(size, size), dtype=np.uint8)
    mask[:, : size // 4] = np.arange(NUM_CLASSES, dtype=np.uint8).repeat(-(-size // NUM_CLASSES))[:size, None]
    return mask


def check_read_mask(read_mask: Callable[[Path], np.ndarray]) -> ExerciseResult:
    """Notebook 1: read a palette PNG (the hand-out's masks) as the H×W array of class indices."""
    name = "reading a palette mask"
    mask = _face_mask()
    picture = Image.fromarray(mask, mode="P")
    picture.putpalette(mask_palette())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mask.png"
        picture.save(path)
        got = np.asarray(read_mask(path))
    if got.shape != mask.shape:
        hint = " (an RGB read gives H×W×3: the colours, not the classes)" if got.shape == (*mask.shape, 3) else ""
        return ExerciseResult(name, False, f"shape {got.shape}, expected {mask.shape}{hint}")
    wrong = int((got != mask).sum())
    if wrong:
        return ExerciseResult(name, False, f"{wrong} of {mask.size} pixels differ; a palette PNG's pixel values "
                                           "are the classes: convert('L') or ('RGB') turns them into colours")
    return ExerciseResult(name, True, f"all {mask.size} pixels hold their class (0..{NUM_CLASSES - 1})")


def check_class_weights(weights_rule: Callable[[np.ndarray], np.ndarray]) -> ExerciseResult:
    """Notebook 2: w_c = log2(N / n_c) from per-class pixel counts."""
    from faceparse_lib.data.stats import reference_counts

    name = "the log2 class-weight rule"
    cases = [reference_counts()["pixels"].to_numpy(dtype=np.int64),
             np.random.default_rng(0).integers(1, 10**6, size=NUM_CLASSES)]
    for pixels in cases:
        expected = reference_class_weights(pixels)
        got = np.asarray(weights_rule(pixels.copy()), dtype=np.float64)
        if got.shape != expected.shape:
            return ExerciseResult(name, False, f"{got.shape[0] if got.ndim else 'no'} weights, expected one per class "
                                               f"({NUM_CLASSES})")
        if not np.allclose(got, expected, rtol=1e-4):
            ratio = got / expected
            hint = (" (all off by the same factor: log2, not the natural log?)" if np.allclose(ratio, ratio[0], rtol=1e-3)
                    else "")
            worst = int(np.argmax(np.abs(got - expected)))
            return ExerciseResult(name, False, f"{CLASSES[worst]}: {got[worst]:.4f}, expected {expected[worst]:.4f}"
                                               + hint)
    return ExerciseResult(name, True, "the same weights as class_weights(counts, 'log2') on two sets of counts")


def check_hflip(flip: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]) -> ExerciseResult:
    """Notebook 3: mirror an image and its mask together, left/right classes swapped."""
    name = "the joint flip"
    mask = torch.from_numpy(_face_mask(seed=1))
    image = torch.arange(3 * mask.numel(), dtype=torch.float32).reshape(3, *mask.shape)
    expected_image, expected_mask = reference_hflip(image, mask)
    got_image, got_mask = flip(image.clone(), mask.clone())
    if not torch.equal(torch.as_tensor(got_image), expected_image):
        return ExerciseResult(name, False, "the image is not mirrored left to right (flip the last axis, W)")
    got_mask = torch.as_tensor(got_mask)
    if torch.equal(got_mask, mask.flip(-1)):
        pairs = ", ".join(f"{CLASSES[a]}/{CLASSES[b]}" for a, b in FLIP_PAIRS)
        return ExerciseResult(name, False, f"the mask is mirrored but its left/right classes are not swapped ({pairs}): "
                                           "a mirrored left eye is the subject's right eye")
    if not torch.equal(got_mask, expected_mask):
        return ExerciseResult(name, False, f"{int((got_mask != expected_mask).sum())} mask pixels differ from the "
                                           "mirrored, swapped mask")
    return ExerciseResult(name, True, f"mirrored, with {len(FLIP_PAIRS)} left/right pairs swapped")


def check_image_fscore(fscore: Callable[[np.ndarray, np.ndarray], float]) -> ExerciseResult:
    """Notebook 4: one image's F-score as the challenge computes it."""
    name = "one image's F-score"
    truth = _face_mask(seed=2)
    noisy = truth.copy()
    noisy[::3, ::2] = 0
    no_cloth = np.where(truth == 18, 17, truth).astype(np.uint8)
    extra = np.where(no_cloth == 1, 18, no_cloth).astype(np.uint8)  # cloth predicted where the image holds none
    cases = {"a perfect prediction": (truth, truth), "a noisy prediction": (truth, noisy),
             "a predicted class the image does not hold": (no_cloth, extra),
             "an all-background prediction": (truth, np.zeros_like(truth))}
    for case, (true, predicted) in cases.items():
        expected = reference_image_fscore(true, predicted)
        got = float(fscore(true.copy(), predicted.copy()))
        if not np.isclose(got, expected, atol=1e-6):
            hint = (" (average over the classes of the ground truth only, not all 19)"
                    if case == "a predicted class the image does not hold" else "")
            return ExerciseResult(name, False, f"{case}: {got:.4f}, expected {expected:.4f}{hint}")
    return ExerciseResult(name, True, f"the same score as FScore on {len(cases)} cases")
