"""The dataset checker: walk a course-layout root and report counts, sizes, label shares and every problem found."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceparse_lib.classes import CLASSES, FLIP_PAIRS, IGNORE_INDEX, NUM_CLASSES
from faceparse_lib.data.layout import (
    SPLITS,
    DatasetError,
    image_files,
    mask_files,
    masks_dir,
    pair_problems,
    read_image,
    read_mask,
    require_same_size,
)
from faceparse_lib.data.rules import RuleSet, rule_set


@dataclass
class SplitReport:
    """What `check_dataset` found in one split."""

    split: str
    images: int = 0
    masks: int = 0
    sizes: Counter = field(default_factory=Counter)
    label_pixels: np.ndarray = field(default_factory=lambda: np.zeros(256, dtype=np.int64))


@dataclass
class CheckReport:
    """Counts, sizes, label histogram and every problem found in a dataset root."""

    root: Path
    splits: list[SplitReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what is fine under the rules but worth saying
    swapped: list[Path] = field(default_factory=list)  # masks whose left/right parts sit opposite to the set's

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems

    def format(self) -> str:
        """A plain-text report for the terminal or a notebook: counts, sizes, label shares, problems."""
        lines = [f"dataset {self.root}"]
        for s in self.splits:
            sizes = ", ".join(f"{w}×{h}: {n}" for (w, h), n in s.sizes.most_common())
            lines.append(f"  {s.split}: {s.images} images, {s.masks} masks; sizes {sizes or '-'}")
        labelled = [s for s in self.splits if s.label_pixels.sum()]
        if labelled:
            lines.append("  pixel share per class (%):")
            lines.append("    " + f"{'class':<12}" + "".join(f"{s.split:>9}" for s in labelled))
            names = [(c, CLASSES[c]) for c in range(NUM_CLASSES)] + [(IGNORE_INDEX, "ignore (255)")]
            for index, name in names:
                shares = [100 * s.label_pixels[index] / s.label_pixels.sum() for s in labelled]
                if index != IGNORE_INDEX or any(shares):
                    lines.append("    " + f"{name:<12}" + "".join(f"{v:9.3f}" for v in shares))
        lines += [f"  note: {n}" for n in self.notes]
        if self.swapped:
            lines.append(f"  {len(self.swapped)} mask(s) with left and right swapped against the rest of the set "
                         "(by the centroids of l_/r_ eyes, brows and ears): relabel or drop them before training:")
            lines += [f"    - {p}" for p in self.swapped]
        lines.append(f"{len(self.problems)} problem(s)" + (":" if self.problems else ""))
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def _check_split(root: Path, split: str, report: CheckReport, progress: bool, rules: RuleSet,
                 sides: dict[Path, int]) -> None:
    from tqdm.auto import tqdm

    result = SplitReport(split)
    report.splits.append(result)
    try:
        images = image_files(root, split)
    except DatasetError as err:
        report.problems.append(str(err))
        return
    masks: dict[str, Path] = {}
    # test/ may come without masks (the course's hand-out), and so may val/ under the challenge rules (scored on
    # CodaBench); when they have masks they are checked like the others.
    masks_optional = split == "test" or (split == "val" and not rules.val_has_masks)
    if masks_optional and not masks_dir(root, split).exists():
        if split == "val":
            report.notes.append(f"{masks_dir(root, split)}: none, as the {rules.title} rules hand out val images "
                                "without masks; hold out part of train to validate (train --holdout)")
    else:
        try:
            masks = mask_files(root, split)
        except DatasetError as err:
            report.problems.append(str(err))
        else:
            report.problems += pair_problems(images, masks)
    result.images, result.masks = len(images), len(masks)
    for stem in tqdm(sorted(images), desc=f"check {split}", disable=not progress, leave=False):
        try:
            image = read_image(images[stem])
            result.sizes[(image.shape[1], image.shape[0])] += 1
            if stem in masks:
                mask = read_mask(masks[stem])
                require_same_size(image, mask, images[stem], masks[stem])
                result.label_pixels += np.bincount(mask.ravel(), minlength=256)
                side = left_right_side(mask)
                if side is not None:
                    sides[masks[stem]] = side
        except DatasetError as err:
            report.problems.append(str(err))
    for stem in sorted(masks.keys() - images.keys()):
        try:
            read_mask(masks[stem])
        except DatasetError as err:
            report.problems.append(str(err))


def left_right_side(mask: np.ndarray) -> int | None:
    """+1 when the mask's l_ parts mostly sit left of their r_ twins in the image, -1 when right, None without a pair."""
    columns = np.arange(mask.shape[1])
    votes = 0
    for left, right in FLIP_PAIRS:
        width = [np.bincount(np.nonzero(mask == c)[1], minlength=mask.shape[1]) for c in (left, right)]
        if width[0].sum() and width[1].sum():
            centre = [(w * columns).sum() / w.sum() for w in width]
            votes += 1 if centre[0] < centre[1] else -1
    return None if votes == 0 else (1 if votes > 0 else -1)


def check_dataset(root: str | Path, splits: tuple[str, ...] | None = None, progress: bool = False,
                  rules: str = "seed") -> CheckReport:
    """Walk every split under `root` and report counts, sizes, label histogram and all problems found.

    Under `rules` (a `rules.RULE_SETS` name) a val split without masks is fine when that edition hands it out so.
    Masks whose left/right parts sit on the side opposite to the one most of the set uses are listed in `swapped`.
    """
    rule = rule_set(rules)
    root = Path(root)
    report = CheckReport(root)
    if not root.is_dir():
        report.problems.append(f"{root}: folder not found")
        return report
    if splits is None:
        splits = tuple(s for s in SPLITS if (root / s).is_dir())
        if not splits:
            report.problems.append(f"{root}: no train/, val/ or test/ folder; expected the course layout")
            return report
    sides: dict[Path, int] = {}
    for split in splits:
        _check_split(root, split, report, progress, rule, sides)
    convention = 1 if sum(sides.values()) >= 0 else -1
    report.swapped = sorted(path for path, side in sides.items() if side != convention)
    return report
