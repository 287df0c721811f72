"""The training configuration: one dataclass and its two presets (torch-free, so `train --help` is instant)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faceparse_lib.classes import NUM_CLASSES
from faceparse_lib.data.rules import rule_set
from faceparse_lib.models.names import CHALLENGE_MODEL, DEMO_MODEL, SEED_MODEL

OPTIMIZER_NAMES = ("sgd", "adamw")
LOSS_NAMES = ("ce", "ce+dice", "ce+lovasz", "ce+focal")


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as config.json in the run dir."""

    data_root: str = "data/celebamask"
    run_dir: str = "runs/train"
    rules: str = "seed"  # the course edition's rules (data.rules.RULE_SETS): the metric, the parameter cap, pretraining
    # Train images held out to validate on (0: the val split), chosen by `holdout_split` (stratified by rare class)
    # from its own seed, so a run with another training seed validates on the same images; saved as holdout.json.
    holdout: int = 0
    holdout_seed: int = 0
    # Train on every training pair with no validation (best.pt is the last checkpoint): the challenge's last run,
    # once a holdout run has chosen the schedule (`final_fit_config`).
    final_fit: bool = False
    final_fit_of: str | None = None  # the holdout run whose recipe and length a final fit repeats
    model: str = DEMO_MODEL
    pretrained: bool = False
    num_classes: int = NUM_CLASSES
    # Side the images are resized to before augmentation and the model (None: as stored). Validation scores the
    # logits resized back to each mask's own size, so a smaller input never flatters the score.
    input_size: int | None = None
    crop_size: int = 512
    ratio_range: tuple[float, float] | None = (0.5, 2.0)  # random resize ratios; None: no resize
    cat_max_ratio: float = 0.75
    flip_p: float = 0.5
    photometric: bool = True
    batch_size: int = 8
    iterations: int = 40_000
    optimizer: str = "sgd"  # "sgd" or "adamw"
    lr: float = 0.01
    min_lr: float = 1e-4
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    warmup_iterations: int = 0
    aux_weight: float = 0.4
    class_weights: str | None = "log2"  # a faceparse_lib.data.stats method, or None for plain cross-entropy
    loss: str = "ce"  # "ce", or the weighted CE plus smp's Dice, Lovász or focal term ("ce+dice", ...)
    rotate_degrees: float = 0.0  # random rotation within ±this, corners filled with ignore (255)
    ema_decay: float | None = None  # an EMA of the weights (timm's ModelEmaV3), validated and kept as best.pt
    eval_interval: int = 4000
    checkpoint_interval: int = 1000
    log_interval: int = 50
    eval_batch_size: int = 8
    seed: int = 0
    amp: str = "auto"  # "auto" (fp16 on CUDA, off on CPU), "fp16", "bf16", "off"
    channels_last: bool = True  # CUDA only
    device: str = "auto"
    workers: int | None = None  # DataLoader workers (None: 0 for cached data, else up to 4)
    cache_data: bool = False  # decode every image once and keep it in memory (small sets, CPU runs)
    time_limit_minutes: float | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        self.ratio_range = tuple(self.ratio_range) if self.ratio_range is not None else None
        if self.optimizer not in OPTIMIZER_NAMES:
            raise ValueError(f"optimizer {self.optimizer!r}: choose from {', '.join(OPTIMIZER_NAMES)}")
        rule_set(self.rules)  # refuses an unknown name
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"loss {self.loss!r}: choose from {', '.join(LOSS_NAMES)}")
        if self.holdout < 0:
            raise ValueError(f"holdout must be 0 (use the val split) or a number of train images, got {self.holdout}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie strictly between 0 and 1 (None: no EMA), got {self.ema_decay}")
        if self.final_fit and self.holdout:
            raise ValueError(f"final_fit trains on every training pair: holdout must be 0, got {self.holdout}")
        if self.amp not in ("auto", "fp16", "bf16", "off"):
            raise ValueError(f"amp {self.amp!r}: choose from auto, fp16, bf16, off")
        for name in ("iterations", "batch_size", "crop_size", "eval_interval", "checkpoint_interval", "log_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TrainConfig:
        """A preset ("report" or "cpu") with some fields overridden."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """A config from a dict such as config.json; unknown keys are refused (the environment record is skipped)."""
        values = {k: v for k, v in values.items() if k != "environment"}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; known: {', '.join(sorted(known))}")
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a config JSON file (a run dir's config.json, or one written by hand)."""
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: config file not found") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from err
        try:
            return cls.from_dict(values)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from err


PRESETS: dict[str, dict[str, Any]] = {
    # The seed report's mmsegmentation schedule on one GPU: 40k iterations of SGD 0.01, momentum 0.9,
    # weight decay 5e-4, poly 0.9 down to 1e-4, aux 0.4, validation every 4k, the full augmentation. Batch 4 is
    # what mmseg's 4xb4 config gives a single GPU. Checkpoints every 1k so a Colab disconnect costs little.
    "report": dict(
        model=SEED_MODEL, pretrained=True, input_size=None, crop_size=512, ratio_range=(0.5, 2.0),
        cat_max_ratio=0.75, flip_p=0.5, photometric=True, batch_size=4, iterations=40_000, optimizer="sgd",
        lr=0.01, min_lr=1e-4, momentum=0.9, weight_decay=5e-4, poly_power=0.9, warmup_iterations=0,
        aux_weight=0.4, class_weights="log2", eval_interval=4000, checkpoint_interval=1000, log_interval=50,
        amp="auto", cache_data=False,
    ),
    # A few minutes on a laptop CPU: the small demo model on 128 px images kept in memory, AdamW (it needs no
    # schedule tuning from scratch, unlike SGD without pretrained weights) with a short warm-up and poly decay.
    # Random 112 px crops of the 128 px images (0.68x the time of a full-size step). Weighted CE plus smp's Dice
    # term at lr 1.4e-2 learns faster than CE alone at 8e-3. On the default synthetic set (subject's left/right),
    # three seeds each, val mIoU median (min-max): 650 iterations 0.766 (0.758-0.789), 750 0.795 (0.777-0.801),
    # 850 0.804 (0.803-0.810), 1,000 0.817 (0.817-0.825); 850 is the middle of a stretch where every seed clears
    # 0.77, in a median of 2:40 on the 2-core development machine (1,000: 3:19). Two validations; no random resize
    # (on this budget it cost mIoU at the same speed).
    "cpu": dict(
        model=DEMO_MODEL, pretrained=False, input_size=128, crop_size=112, ratio_range=None,
        cat_max_ratio=0.75, flip_p=0.5, photometric=False, batch_size=8, iterations=850, optimizer="adamw",
        lr=1.4e-2, min_lr=1e-5, weight_decay=1e-4, poly_power=0.9, warmup_iterations=50, aux_weight=0.4,
        class_weights="log2", loss="ce+dice", eval_interval=425, checkpoint_interval=425, log_interval=25,
        eval_batch_size=10, amp="off", cache_data=True, device="cpu",
    ),
    # The challenge on a laptop with no GPU left: 2 CPU cores, under 20 minutes, the hand-out's pairs (100 held out).
    # The challenge model at 256 px (224 px crops), weighted CE + Dice, AdamW 5e-3, flip and crop only, no EMA: on
    # the course's 2025 hand-out (900 + 100 holdout) this recipe beat the former challenge recipe (the `augmented`
    # recipe) at both budgets measured (850 iterations at 128 px: 0.697 against 0.551 holdout F-score in 0.56x the
    # time; issue 27's probe, 2,000 at 256 px: 0.768 against 0.714). 1,200 iterations fit the budget at 0.82 s an
    # iteration: three seeds gave 0.761 median (0.758-0.762) in a median of 17:17 (README, "Recipes on real faces").
    # Masks are scored at 512 px, so the smaller input never flatters the score.
    "laptop": dict(
        rules="challenge", holdout=100, model=CHALLENGE_MODEL, pretrained=False, input_size=256, crop_size=224,
        ratio_range=None, cat_max_ratio=0.75, flip_p=0.5, photometric=False, rotate_degrees=0.0, batch_size=8,
        iterations=1200, optimizer="adamw", lr=5e-3, min_lr=1e-5, weight_decay=1e-4, poly_power=0.9,
        warmup_iterations=50, aux_weight=0.4, class_weights="log2", loss="ce+dice", ema_decay=None,
        eval_interval=600, checkpoint_interval=300, log_interval=50, eval_batch_size=10, amp="off", cache_data=True,
        device="cpu",
    ),
    # Today's challenge on one Colab T4: 1,000 training pairs, a model under 1,821,085 parameters trained from
    # scratch, 100 of the pairs held out (val has no masks), best.pt by the per-image F-score. Each choice is the
    # `recipes` benchmark's on the course's 2025 hand-out (900 + 100 holdout, seed 0; README, "Recipes on real
    # faces"), 850 iterations at 128 px with 112 px crops, where this recipe scored a holdout F-score of 0.699
    # against 0.551 for the former one here (CE + Lovász, AdamW 2e-3, random resize 0.5-2, ±15° rotation,
    # photometric, EMA; the `augmented` recipe):
    # - flip and crop only: adding random resize back cost 0.06 (0.639); from the former recipe, dropping random
    #   resize gained 0.11, photometric 0.04, rotation 0.03; the probe of issue 27 agreed at 2,000 iterations at
    #   256 px (0.768 against 0.714);
    # - crops of 448 px, 0.875 of the 512 px side as in every run measured (a 512 crop of a 512 image is no crop);
    # - AdamW 5e-3: the former recipe gained 0.027 with it;
    # - weighted CE + Dice: the same as CE + Lovász within a seed; one loss family with the laptop and first-run
    #   presets;
    # - EMA 0.999 (timm's, with warm-up): the same within a seed (0.698 without); kept because the long run is where
    #   it pays and the hand-in stays one model.
    # 20,000 iterations (178 epochs of 900; the best public 2025 result trained 80): whether augmentation wins back
    # over a long run at 512 px is not measured (no GPU lent). Its T4 time is a projection, not a measurement: 302
    # GFLOP a step (fwd + bwd, batch 8 of 448 px crops), 0.4-0.85 h at 2-4 TFLOP/s sustained.
    "challenge": dict(
        rules="challenge", holdout=100, model=CHALLENGE_MODEL, pretrained=False, input_size=None, crop_size=448,
        ratio_range=None, cat_max_ratio=0.75, flip_p=0.5, photometric=False, rotate_degrees=0.0, batch_size=8,
        iterations=20_000, optimizer="adamw", lr=5e-3, min_lr=1e-5, weight_decay=1e-2, poly_power=0.9,
        warmup_iterations=500, aux_weight=0.4, class_weights="log2", loss="ce+dice", ema_decay=0.999,
        eval_interval=2000, checkpoint_interval=1000, log_interval=50, amp="auto", cache_data=False,
    ),
}

# A first run on the T4 before the challenge preset's long one: the laptop recipe for 2,000 iterations on the GPU,
# validated at 1,000 and 2,000. On the course's 2025 hand-out this recipe reached a holdout F-score of 0.768 at
# 2,000 iterations (issue 27's CPU probe). Its T4 time is a projection, not a measurement: 76 GFLOP a step
# (fwd + bwd, batch 8 at 224 px), about 2-3 minutes at 2-4 TFLOP/s sustained, images cached.
PRESETS["first-run"] = {**PRESETS["laptop"], "iterations": 2000, "eval_interval": 1000, "checkpoint_interval": 500,
                        "device": "auto", "amp": "auto"}


def lr_at(cfg: TrainConfig, iteration: int) -> float:
    """Learning rate for step `iteration` (0-based): linear warm-up to lr, then poly decay to min_lr.

    As mmengine's LinearLR followed by PolyLR(begin=warmup): the decay starts from lr where the warm-up ends, so
    the schedule has no jump.
    """
    warmup = cfg.warmup_iterations
    if iteration < warmup:
        return cfg.lr * (iteration + 1) / warmup
    progress = min(1.0, (iteration - warmup) / max(1, cfg.iterations - warmup))
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * (1 - progress) ** cfg.poly_power
