"""A deterministic holdout carved from the training pairs, for editions whose val split has no masks.

Stratified by the rare classes: each of necklace, earring, eyeglasses and hat gets at least its share of the
holdout's images (and at least one, where the training set holds any), so the validation score sees them.
The same pairs, size and seed give the same holdout.

It is drawn image by image, not person by person. CelebAMask-HQ holds several photos of some people, and a holdout
that shares people with training could flatter the score. But the hand-out cannot be split by person: its file
names are random UUIDs (version 4: the 2025 hand-out's 1,000 stems) and it ships no identity list. The course draws
its val and test images from the same pool in the same way, so an image-level holdout estimates the leaderboard's
situation, shared people included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from faceparse_lib.classes import CLASSES, NUM_CLASSES
from faceparse_lib.data.layout import read_mask

RARE_CLASSES = tuple(CLASSES.index(name) for name in ("neck_l", "ear_r", "eye_g", "hat"))


def classes_present(mask_paths: Sequence[Path]) -> np.ndarray:
    """N×19 bool: which classes each mask holds."""
    present = np.zeros((len(mask_paths), NUM_CLASSES), dtype=bool)
    for i, path in enumerate(mask_paths):
        labels = np.unique(read_mask(path))
        present[i, labels[labels < NUM_CLASSES]] = True
    return present


def holdout_indices(present: np.ndarray, size: int, seed: int = 0) -> list[int]:
    """Indices of `size` images, stratified so every rare class gets its share, and never a class's last images.

    A rare class gets at least one held-out image where it occurs in two or more; whatever is held out, training
    keeps at least one image of every class the set holds (a class seen only in validation is never learnt).
    """
    n = len(present)
    if not 0 < size < n:
        raise ValueError(f"a holdout of {size} images from {n}: expected at least 1 and fewer than {n}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    remaining = present.sum(axis=0)  # images of each class still in training
    chosen: list[int] = []

    def take(i: int) -> bool:
        if i in chosen or len(chosen) >= size or (remaining[present[i]] <= 1).any():
            return False
        chosen.append(int(i))
        remaining[present[i]] -= 1
        return True

    for c in sorted(RARE_CLASSES, key=lambda c: present[:, c].sum()):  # rarest first
        holding = [i for i in order if present[i, c]]
        want = min(len(holding) // 2, max(1, round(size * len(holding) / n))) if holding else 0
        have = sum(present[i, c] for i in chosen)
        for i in holding:
            if have >= want:
                break
            have += take(i)
    for i in order:
        if len(chosen) >= size:
            break
        take(i)
    if len(chosen) < size:
        raise ValueError(f"a holdout of {size} images from {n} would take the last training image of a class; "
                         f"at most {len(chosen)} can be held out")
    return sorted(chosen)


def holdout_split(pairs: Sequence[tuple[Path, Path]], size: int, seed: int = 0
                  ) -> tuple[list[tuple[Path, Path]], list[tuple[Path, Path]]]:
    """(training pairs, holdout pairs): disjoint by image, the holdout stratified by the rare classes."""
    held = set(holdout_indices(classes_present([mask for _, mask in pairs]), size, seed))
    return ([p for i, p in enumerate(pairs) if i not in held], [p for i, p in enumerate(pairs) if i in held])
