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


def validation_pairs(run_dir: str | Path, data_root: str | Path) -> list[tuple[Path, Path]]:
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
