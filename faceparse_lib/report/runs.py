"""A training run as the report reads it (config, log, class weights, saved evaluation) and its best model's scores."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from faceparse_lib.classes import CLASSES
from faceparse_lib.training.run_files import (CONFIG_FILE, EVAL_FILE, HOLDOUT_FILE, LOG_FILE, WEIGHTS_FILE,
                                              validation_pairs)

log = logging.getLogger(__name__)
SAMPLE_IMAGES = 4


@dataclass
class Run:
    """What a run dir holds: its config, training log and (for a weighted run) class-weight record."""

    path: Path
    config: dict[str, Any]
    log: pd.DataFrame
    weights: dict[str, Any] | None = None
    eval_record: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def label(self) -> str:
        """Run name with its model and class-weight rule, for legends and tables."""
        weights = self.config.get("class_weights") or "none"
        return f"{self.name} ({self.config.get('model', '?')}, weights {weights})"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err


def read_run(run_dir: str | Path) -> Run:
    """A run dir's files; FileNotFoundError naming the file when log.csv or config.json is missing."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: run dir not found")
    log_path, config_path = path / LOG_FILE, path / CONFIG_FILE
    for required in (log_path, config_path):
        if not required.is_file():
            raise FileNotFoundError(f"{required}: not found; expected a run dir written by train (config.json, log.csv)")
    try:
        frame = pd.read_csv(log_path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        raise ValueError(f"{log_path}: not a readable CSV ({err})") from err
    missing = [c for c in ("kind", "iteration", "loss", "miou") if c not in frame.columns]
    if missing:
        raise ValueError(f"{log_path}: missing columns {', '.join(missing)}; expected the header train writes")
    weights_path, eval_path = path / WEIGHTS_FILE, path / EVAL_FILE
    weights = _read_json(weights_path) if weights_path.is_file() else None
    eval_record = _read_json(eval_path) if eval_path.is_file() else None
    return Run(path, _read_json(config_path), frame, weights, eval_record)


def val_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The validation rows of a log (those with an mIoU), by iteration."""
    return frame[(frame["kind"] == "val") & frame["miou"].notna()].sort_values("iteration")


def best_val_row(frame: pd.DataFrame, metric: str = "miou") -> pd.Series | None:
    """The validation row with the highest `metric` (the first, if tied), or None before any validation with it."""
    rows = val_rows(frame)
    if metric not in rows.columns or rows[metric].isna().all():
        return None
    return rows.loc[rows[metric].idxmax()]


# --- per-class scores and the confusion matrix of the best checkpoint ---


@dataclass
class Scores:
    """Per-class scores of a run's best model and where they came from."""

    iou: np.ndarray
    f1: np.ndarray | None
    matrix: Any | None  # ConfusionMatrix
    source: str
    fscore: np.ndarray | None = None  # the challenge's per-class F, where known


def log_scores(run: Run) -> Scores | None:
    """Per-class IoU (and F, where logged) of log.csv's best validation row by the run's rules (no per-class F1)."""
    best = best_val_row(run.log, run_metric(run))
    columns = [f"iou_{name}" for name in CLASSES]
    if best is None or any(c not in best.index for c in columns):
        return None
    iou = best[columns].to_numpy(dtype=np.float64)
    f_columns = [f"f_{name}" for name in CLASSES]
    fscore = best[f_columns].to_numpy(dtype=np.float64) if all(c in best.index for c in f_columns) else None
    if fscore is not None and np.isnan(fscore).all():
        fscore = None  # a log written before per-class F was logged
    return Scores(iou, None, None, f"{LOG_FILE}, best validation (iteration {int(best['iteration']):,})", fscore)


def run_metric(run: Run) -> str:
    """The score the run's rules rank by: "fscore" (the challenge) or "miou" (the seed edition)."""
    from faceparse_lib.data.rules import rule_set

    return rule_set(run.config.get("rules", "seed")).metric


def scores_of_matrix(matrix: Any, source: str, fscore: np.ndarray | None = None) -> Scores:
    """Scores read from a ConfusionMatrix (and the per-class F of an FScore, when given)."""
    return Scores(np.asarray(matrix.iou()), np.asarray(matrix.f1()), matrix, source,
                  None if fscore is None else np.asarray(fscore, dtype=np.float64))


def checkpoint_iteration(run: Run) -> int | None:
    """The iteration of the checkpoint the report scores (best.pt, else last.pt), or None without one."""
    from faceparse_lib.models.torch_files import CheckpointError
    from faceparse_lib.models.checkpoint import read_checkpoint, resolve_checkpoint

    try:
        return read_checkpoint(resolve_checkpoint(run.path)).get("iteration")
    except CheckpointError:
        return None


def saved_eval_scores(run: Run) -> Scores | None:
    """The scores `python -m faceparse_lib evaluate` saved beside the checkpoint (eval_val.json), if any."""
    from faceparse_lib.evaluation.metrics import ConfusionMatrix

    record = run.eval_record
    if not record or "confusion" not in record:
        return None
    current = checkpoint_iteration(run)
    if current is not None and record.get("checkpoint_iteration") != current:
        log.info("%s: made from iteration %s, the checkpoint is at %s; re-scoring", run.path / EVAL_FILE,
                 record.get("checkpoint_iteration"), current)
        return None
    matrix = ConfusionMatrix.from_state_dict(record["confusion"])
    checkpoint = Path(record.get("checkpoint", "?")).name
    per_class = record.get("per_class") or {}
    fscore = None
    if all(per_class.get(name, {}).get("F-score", "absent") != "absent" for name in CLASSES):
        fscore = np.array([np.nan if per_class[n]["F-score"] is None else per_class[n]["F-score"] for n in CLASSES])
    return scores_of_matrix(matrix, f"{EVAL_FILE} ({checkpoint} on {record.get('images', '?')} val images)", fscore)


def val_data_root(run: Run, data_root: str | Path | None) -> Path | None:
    """The dataset root to evaluate on: the one given, else the run's, when it has what the run validated on."""
    root = Path(data_root) if data_root is not None else Path(run.config.get("data_root") or "")
    needed = root / ("train" if (run.path / HOLDOUT_FILE).is_file() else "val") / "masks"  # a holdout is in train
    if data_root is not None and not needed.is_dir():
        raise FileNotFoundError(f"{needed}: not found; --data-root must be a dataset in the course layout")
    return root if str(root) and needed.is_dir() else None


def evaluate_run(run: Run, root: Path, device: str = "cpu", progress: bool = False) -> tuple[Scores, Any]:
    """Scores of the run's best checkpoint on root's val split, and the loaded model (for sample predictions)."""
    from faceparse_lib.models.checkpoint import load_checkpoint, resolve_checkpoint
    from faceparse_lib.data.dataset import FaceParsingDataset
    from faceparse_lib.evaluation.fscore import FScore
    from faceparse_lib.evaluation.scoring import evaluate

    checkpoint = resolve_checkpoint(run.path)
    model = load_checkpoint(checkpoint, device=device)
    dataset = FaceParsingDataset.from_pairs(validation_pairs(run.path, root))
    fscore = FScore()
    matrix = evaluate(model, dataset, progress=progress, fscore=fscore)
    kind = "held-out training" if (run.path / HOLDOUT_FILE).is_file() else "validation"
    source = f"{checkpoint.name} evaluated on {len(dataset)} {kind} images of {root}"
    return scores_of_matrix(matrix, source, fscore.per_class()), model


def sample_predictions(model: Any, root: Path, count: int = SAMPLE_IMAGES, run_dir: Path | None = None,
                       metric: str = "miou") -> tuple[list[tuple], list[str]]:
    """(image, truth, prediction) for `count` validation images spread over them, each titled with its `metric`."""
    from faceparse_lib.data.dataset import FaceParsingDataset
    from faceparse_lib.data.rules import METRIC_NAMES
    from faceparse_lib.evaluation.inference import predict_image
    from faceparse_lib.visual.pictures import image_fscore, image_miou

    score = {"miou": image_miou, "fscore": image_fscore}[metric]

    dataset = FaceParsingDataset.from_pairs(validation_pairs(run_dir, root)) if run_dir else FaceParsingDataset(root, "val")
    picks = np.unique(np.linspace(0, len(dataset) - 1, num=min(count, len(dataset))).round().astype(int))
    samples, titles = [], []
    for index in picks:
        image, mask = dataset[int(index)]
        pred = predict_image(model, image)
        samples.append((image, mask, pred))
        titles.append(f"{dataset.pairs[int(index)][0].stem}\n{METRIC_NAMES[metric]} {score(mask, pred):.3f}")
    return samples, titles
