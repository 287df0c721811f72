"""A run dir's files: their names, log.csv written as training goes and read back, JSON written atomically."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from faceparse_lib.classes import CLASSES

CONFIG_FILE, LOG_FILE, WEIGHTS_FILE, EVAL_FILE = "config.json", "log.csv", "class_weights.json", "eval_val.json"
HOLDOUT_FILE = "holdout.json"  # the train images a run held out to validate on
LOG_COLUMNS = (
    ["kind", "iteration", "seconds", "loss", "loss_out", "loss_aux", "loss_extra", "lr"]
    + ["val_loss", "fscore", "miou", "mean_f1", "pixel_accuracy"]
    + [f"iou_{name}" for name in CLASSES]
    + [f"f_{name}" for name in CLASSES]  # the challenge's per-class F (mean over the images holding the class)
)


class CsvLog:
    """log.csv: one row per log interval and per validation, appended as they come (a kill loses nothing written)."""

    def __init__(self, path: Path, keep_until: int | None, enabled: bool = True):
        self.path, self.enabled = path, enabled
        if not enabled:
            return
        rows = []
        if keep_until is not None and path.is_file():
            with open(path, newline="") as handle:
                rows = [r for r in csv.DictReader(handle) if r.get("iteration") and int(r["iteration"]) <= keep_until]
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, LOG_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (missing columns left blank)."""
        if self.enabled:
            with open(self.path, "a", newline="") as handle:
                csv.DictWriter(handle, LOG_COLUMNS, extrasaction="ignore").writerow(row)


def read_log(run_dir: str | Path):
    """log.csv of a run as a pandas DataFrame (train and val rows; blanks are NaN)."""
    import pandas as pd

    path = Path(run_dir) / LOG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training log; expected a run dir written by train")
    return pd.read_csv(path)


def write_json(path: Path, value: Any) -> None:
    """Write `value` as indented JSON via a temporary file and a rename (a kill never leaves half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)


Pairs = list[tuple[Path, Path]]


def training_split(cfg: Any, write: bool = True) -> tuple[Pairs, Pairs]:
    """(pairs trained on, pairs validated on) of a run: the val split, the run's holdout of train, or none (a final fit).

    The holdout is drawn once (`holdout_split` with `cfg.holdout_seed`) and saved as the run dir's holdout.json;
    later calls read it back, and refuse a data root or a config that would move trained images into validation.
    """
    from faceparse_lib.data.holdout import holdout_split
    from faceparse_lib.data.layout import list_pairs

    pairs = list_pairs(cfg.data_root, "train")
    if cfg.final_fit:
        return pairs, []
    if not cfg.holdout:
        return pairs, list_pairs(cfg.data_root, "val")
    path = Path(cfg.run_dir) / HOLDOUT_FILE
    if path.is_file():
        record = json.loads(path.read_text())
        # Kits before `holdout_seed` drew the holdout from the training seed and saved it as "seed".
        seed, wanted = (record["holdout_seed"], cfg.holdout_seed) if "holdout_seed" in record else (record.get("seed"), cfg.seed)
        if (record.get("size"), seed) != (cfg.holdout, wanted):
            raise ValueError(f"{path}: a holdout of {record.get('size')} images drawn with seed {seed}; the config "
                             f"asks for {cfg.holdout} with seed {wanted}: set holdout={record.get('size')}, "
                             f"holdout_seed={seed} to go on with this run, or use a new run dir")
        held = set(record["stems"])
        split = ([p for p in pairs if p[1].stem not in held], [p for p in pairs if p[1].stem in held])
        if len(split[1]) != len(held):
            raise ValueError(f"{path}: {len(held) - len(split[1])} of its {len(held)} held-out images are not in "
                             f"{cfg.data_root}/train; that data root would validate on other images than the run's")
        return split
    train_pairs, held_pairs = holdout_split(pairs, cfg.holdout, cfg.holdout_seed)
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"size": cfg.holdout, "holdout_seed": cfg.holdout_seed,
                          "stems": [m.stem for _, m in held_pairs]})
    return train_pairs, held_pairs


def validation_pairs(run_dir: str | Path, data_root: str | Path) -> Pairs:
    """The (image, mask) pairs a run validated on: its holdout of train (holdout.json), else the val split."""
    from faceparse_lib.data.layout import list_pairs

    path = Path(run_dir) / HOLDOUT_FILE
    if not path.is_file():
        return list_pairs(data_root, "val")
    held = set(json.loads(path.read_text())["stems"])
    pairs = [pair for pair in list_pairs(data_root, "train") if pair[1].stem in held]
    if len(pairs) != len(held):
        raise FileNotFoundError(f"{path}: {len(held) - len(pairs)} of the held-out images are not in {data_root}/train")
    return pairs


def best_validation(run_dir: str | Path, metric: str) -> tuple[int, float] | None:
    """(iteration, score) of a run's best validation by `metric` ("fscore" or "miou"), the first if tied: best.pt's.

    None when log.csv has no validation row with that score yet.
    """
    path = Path(run_dir) / LOG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training log; expected a run dir written by train")
    with open(path, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("kind") == "val" and r.get(metric)]
    if not rows:
        return None
    best = max(rows, key=lambda r: float(r[metric]))  # max keeps the first of equal values, as train keeps best.pt
    return int(best["iteration"]), float(best[metric])


def best_iteration(run_dir: str | Path, metric: str) -> int:
    """The iteration of a run's best validation by `metric`: the one its best.pt holds."""
    best = best_validation(run_dir, metric)
    if best is None:
        raise ValueError(f"{Path(run_dir) / LOG_FILE}: no validation row yet; train the holdout run until it "
                         "validates at least once")
    return best[0]


def final_fit_config(holdout_run: str | Path, run_dir: str | Path | None = None, **overrides: Any):
    """A holdout run's recipe on every training pair, for as many iterations as its best.pt trained (no validation).

    The warm-up and the poly decay follow the new length, as they would in a run planned that long. `run_dir`
    defaults to the holdout run's with "-final" added.
    """
    import dataclasses

    from faceparse_lib.data.rules import rule_set
    from faceparse_lib.training.config import TrainConfig

    holdout_run = Path(holdout_run)
    cfg = TrainConfig.load(holdout_run / CONFIG_FILE)
    if cfg.final_fit:
        raise ValueError(f"{holdout_run}: already a final fit; pass the holdout run it was made from")
    iterations = best_iteration(holdout_run, rule_set(cfg.rules).metric)
    with open(holdout_run / LOG_FILE, newline="") as handle:
        reached = max((int(r["iteration"]) for r in csv.DictReader(handle) if r.get("iteration")), default=0)
    if reached < cfg.iterations:
        raise ValueError(f"{holdout_run}: at iteration {reached:,} of {cfg.iterations:,}; finish the holdout run first "
                         "(its schedule, and where the best checkpoint falls in it, is what the final fit repeats)")
    if iterations <= cfg.warmup_iterations:
        raise ValueError(f"{holdout_run}: its best validation is at iteration {iterations:,}, inside the "
                         f"{cfg.warmup_iterations:,}-iteration warm-up; that schedule was never validated as a run "
                         "of its own, so a final fit of that length would be a guess")
    return dataclasses.replace(
        cfg, holdout=0, final_fit=True, final_fit_of=str(holdout_run), iterations=iterations,
        warmup_iterations=min(cfg.warmup_iterations, iterations // 2),
        run_dir=str(run_dir or holdout_run.with_name(holdout_run.name + "-final")), **overrides)
