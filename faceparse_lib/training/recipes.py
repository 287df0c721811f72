"""Named training recipes to compare on one budget: each is a few TrainConfig fields over the `challenge` preset.

A recipe says what to change (model, loss, augmentation, EMA); a `Budget` says how much to train (size, crop,
iterations), the same for every recipe, so `bench.recipes.compare_recipes` ranks what a recipe is and not how long
it ran. Every recipe validates on the same holdout (`holdout_seed`), drawn from the training pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faceparse_lib.models.names import DEMO_MODEL
from faceparse_lib.training.config import TrainConfig

BASELINE = "challenge"
# The challenge preset as shipped until issue 27's measurements: CE + Lovász at AdamW 2e-3 with the full augmentation
# (random resize 0.5-2, ±15° rotation, photometric) and an EMA. Kept as a recipe so the table can still show it.
AUGMENTED: dict[str, Any] = dict(loss="ce+lovasz", lr=2e-3, ratio_range=(0.5, 2.0), rotate_degrees=15.0,
                                 photometric=True, ema_decay=0.999)
RECIPES: dict[str, dict[str, Any]] = {
    # The shipped T4 recipe: weighted CE + Dice, AdamW 5e-3, flip and crop only, EMA (training/config.py says why).
    BASELINE: {},
    # One change at a time from the shipped recipe.
    "no-ema": dict(ema_decay=None),
    "no-flip": dict(flip_p=0.0),
    "unweighted": dict(class_weights=None),
    "ce": dict(loss="ce"),
    "ce+lovasz": dict(loss="ce+lovasz"),
    "lr-2e-3": dict(lr=2e-3),
    "with-scale": dict(ratio_range=(0.5, 2.0)),
    "with-rotation": dict(rotate_degrees=15.0),
    "with-photometric": dict(photometric=True),
    "deeplabv3plus_lcnet100": dict(model="deeplabv3plus_lcnet100"),
    "unet_lcnet050": dict(model=DEMO_MODEL),
    # The course's baseline network, adapted: the margin to beat. At AdamW 5e-3 it diverged on the real hand-out (a
    # loss of 2e10 by iteration 400: 32 convolutions and no normalisation); BasicSR trains it with Adam at 2e-4.
    "srresnet_seg": dict(model="srresnet_seg", lr=2e-4),
    # The former shipped recipe, and one change at a time from it: the measurements that chose today's.
    "augmented": AUGMENTED,
    "augmented-ce+dice": {**AUGMENTED, "loss": "ce+dice"},
    "augmented-lr-5e-3": {**AUGMENTED, "lr": 5e-3},
    "augmented-no-scale": {**AUGMENTED, "ratio_range": None},
    "augmented-no-rotation": {**AUGMENTED, "rotate_degrees": 0.0},
    "augmented-no-photometric": {**AUGMENTED, "photometric": False},
    "augmented-no-ema": {**AUGMENTED, "ema_decay": None},
}


@dataclass(frozen=True)
class Budget:
    """How much every recipe trains: images resized to `input_size`, `crop_size` crops, `iterations` of `batch_size`."""

    iterations: int = 850
    input_size: int = 128
    crop_size: int = 112
    batch_size: int = 8
    holdout: int = 100
    holdout_seed: int = 0

    def describe(self) -> str:
        return (f"{self.iterations:,} iterations of batch {self.batch_size}, images at {self.input_size} px, "
                f"{self.crop_size} px crops, {self.holdout} held out")


def recipe_config(name: str, budget: Budget, data_root: str, run_dir: str, seed: int = 0, **overrides: Any) -> TrainConfig:
    """The `challenge` preset with recipe `name`'s fields, trained for `budget`, validated halfway and at the end."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    preset = TrainConfig.preset(BASELINE)
    half = max(1, budget.iterations // 2)
    return TrainConfig.preset(
        BASELINE, **{
            **RECIPES[name],
            "data_root": data_root, "run_dir": run_dir, "seed": seed,
            "iterations": budget.iterations, "input_size": budget.input_size, "crop_size": budget.crop_size,
            "batch_size": budget.batch_size, "holdout": budget.holdout, "holdout_seed": budget.holdout_seed,
            # the preset's warm-up is 2.5 % of its schedule: keep that share on a shorter one
            "warmup_iterations": round(preset.warmup_iterations * budget.iterations / preset.iterations),
            "eval_interval": half, "checkpoint_interval": half, "log_interval": max(1, min(50, half // 4)),
            "cache_data": True, "progress": False, "device": "auto", **overrides,
        })
