"""The report of a training run: tables and figures from its run dir, and report/report.md in the seed report's order.

`write_report(run_dirs, out_dir)` reads each run dir (`config.json`, `log.csv`, `class_weights.json`, `best.pt`),
writes `out_dir/tables/*.csv|md`, `out_dir/figures/*.png` and `out_dir/report.md` embedding them. The first run
dir is the one reported; any others are compared with it (one curve each, and a table).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from faceparse_lib.classes import CLASS_TITLES, CLASSES, NUM_CLASSES
from faceparse_lib.config import SEED_MODEL

log = logging.getLogger(__name__)

CONFIG_FILE, LOG_FILE, WEIGHTS_FILE, EVAL_FILE = "config.json", "log.csv", "class_weights.json", "eval_val.json"
# The seed report's Table 1 (its names for the parts) and its stated total.
SEED_PARTS = {"backbone": "ResNet-50", "decode head": "DepthwiseSeparableASPPHead", "auxiliary head": "FCNHead"}
SEED_TOTAL_PARAMETERS = 43_589_878
# Module attribute -> the part's name in the tables (the seed report's words where it has one).
PART_NAMES = {"encoder": "backbone", "decode_head": "decode head", "auxiliary_head": "auxiliary head"}
SAMPLE_IMAGES = 4
FIGURE_DPI = 130

# Every file write_report may write; the ones a call does not write are removed, so the report never shows stale ones.
TABLES = ("model_parameters", "class_weights", "environment", "runs", "per_class_scores", "confusion_matrix")
FIGURES = ("fig1_loss", "fig2_miou", "per_class_scores", "confusion_matrix", "sample_predictions", "runs_miou")


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


def best_val_row(frame: pd.DataFrame) -> pd.Series | None:
    """The validation row with the highest mIoU (the first, if tied), or None before any validation."""
    rows = val_rows(frame)
    return None if rows.empty else rows.loc[rows["miou"].idxmax()]


# --- Table 1: model structure and parameters ---


def model_parts(model: Any) -> list[tuple[str, str, int]]:
    """(part, module, parameters) for each top-level part: encoder as "backbone", then the decoder and heads."""
    inner = getattr(model, "model", model)  # SmpSegmenter wraps the smp model
    parts = []
    for attribute, module in inner.named_children():
        if module is None:
            continue
        encoder_name = getattr(module, "name", None) if attribute == "encoder" else None
        kind = type(module).__name__ + (f" ({encoder_name})" if isinstance(encoder_name, str) else "")
        parts.append((PART_NAMES.get(attribute, attribute.replace("_", " ")), kind,
                      sum(p.numel() for p in module.parameters())))
    return parts


def _parts_of(name: str, num_classes: int) -> list[tuple[str, str, int]]:
    """model_parts of a model built by name, on the meta device (shapes only: no memory, no initialisation)."""
    import torch

    from faceparse_lib.model import build_model

    with torch.device("meta"):
        return model_parts(build_model(name, num_classes=num_classes))


def parameter_table(model_names: Sequence[str], num_classes: int = NUM_CLASSES) -> pd.DataFrame:
    """Table 1: parameters of each part of each named model and its total, the seed report's model always included."""
    rows = []
    for name in dict.fromkeys([*model_names, SEED_MODEL]):
        parts = _parts_of(name, num_classes)
        for part, kind, count in parts:
            seed_name = SEED_PARTS.get(part) if name == SEED_MODEL else None
            rows.append({"model": name, "part": part, "module": kind, "seed report": seed_name or "",
                         "parameters": count})
        total = sum(count for _, _, count in parts)
        seed_total = f"{SEED_TOTAL_PARAMETERS:,}" if name == SEED_MODEL else ""
        rows.append({"model": name, "part": "total", "module": "", "seed report": seed_total, "parameters": total})
    return pd.DataFrame(rows)


# --- Table 2: class pixel counts and weights ---


def class_weights_table(record: dict[str, Any] | None) -> pd.DataFrame:
    """Table 2: the run's pixel counts, shares and weights per class beside the seed report's (5,000 masks)."""
    from faceparse_lib.weights import reference_counts

    reference = reference_counts()
    table = pd.DataFrame({"class": CLASS_TITLES})
    table.index.name = "index"
    if record is not None:
        if list(record.get("classes", [])) != list(CLASSES):
            raise ValueError(f"class-weight record lists classes {record.get('classes')}; expected {list(CLASSES)}")
        pixels = np.asarray(record["pixels"], dtype=np.int64)
        table["pixels"] = pixels
        table["share %"] = 100 * pixels / max(int(pixels.sum()), 1)
        table[f"weight ({record.get('method', '?')})"] = record["weights"]
    table["report pixels"] = reference["pixels"].to_numpy()
    table["report share %"] = 100 * reference["pixels"].to_numpy() / reference["pixels"].sum()
    table["report weight"] = reference["report_weight"].to_numpy()
    return table


# --- Table 3: environment ---


def environment_table(config: dict[str, Any]) -> tuple[pd.DataFrame, str]:
    """Table 3 and where it came from: the run's recorded environment, else this machine's (said so)."""
    env = config.get("environment")
    source = "recorded by the run in config.json"
    if not env:
        from faceparse_lib.train import environment

        env, source = environment(), "this machine's (the run recorded none)"
    rows = [
        ("GPU / device", env.get("device_name", "?")),
        ("CUDA", env.get("cuda") or "-"),
        ("PyTorch", env.get("torch", "?")),
        ("Python", env.get("python", "?")),
        ("platform", env.get("platform", "?")),
    ]
    return pd.DataFrame(rows, columns=["specification", "value"]), source


# --- comparison of runs ---


def runs_table(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: model, class weights, iterations, best val mIoU and where, its mean F1, training time."""
    rows = []
    for run in runs:
        best = best_val_row(run.log)
        rows.append({
            "run": run.name,
            "model": run.config.get("model", "?"),
            "class weights": run.config.get("class_weights") or "none",
            "iterations": int(run.log["iteration"].max()) if len(run.log) else 0,
            "best mIoU": float(best["miou"]) if best is not None else float("nan"),
            "at iteration": int(best["iteration"]) if best is not None else None,
            "mean F1": float(best["mean_f1"]) if best is not None and "mean_f1" in best else float("nan"),
            "hours": float(run.log["seconds"].max()) / 3600 if "seconds" in run.log else float("nan"),
        })
    return pd.DataFrame(rows)


# --- per-class scores and the confusion matrix of the best checkpoint ---


@dataclass
class Scores:
    """Per-class scores of a run's best model and where they came from."""

    iou: np.ndarray
    f1: np.ndarray | None
    matrix: Any | None  # ConfusionMatrix
    source: str


def log_scores(run: Run) -> Scores | None:
    """Per-class IoU of the best validation row of log.csv (the log holds no per-class F1)."""
    best = best_val_row(run.log)
    columns = [f"iou_{name}" for name in CLASSES]
    if best is None or any(c not in best.index for c in columns):
        return None
    iou = best[columns].to_numpy(dtype=np.float64)
    return Scores(iou, None, None, f"{LOG_FILE}, best validation (iteration {int(best['iteration']):,})")


def scores_of_matrix(matrix: Any, source: str) -> Scores:
    """Scores read from a ConfusionMatrix."""
    return Scores(np.asarray(matrix.iou()), np.asarray(matrix.f1()), matrix, source)


def checkpoint_iteration(run: Run) -> int | None:
    """The iteration of the checkpoint the report scores (best.pt, else last.pt), or None without one."""
    from faceparse_lib.checkpoint import CheckpointError, read_checkpoint, resolve_checkpoint

    try:
        return read_checkpoint(resolve_checkpoint(run.path)).get("iteration")
    except CheckpointError:
        return None


def saved_eval_scores(run: Run) -> Scores | None:
    """The scores `python -m faceparse_lib evaluate` saved beside the checkpoint (eval_val.json), if any."""
    from faceparse_lib.metrics import ConfusionMatrix

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
    return scores_of_matrix(matrix, f"{EVAL_FILE} ({checkpoint} on {record.get('images', '?')} val images)")


def val_data_root(run: Run, data_root: str | Path | None) -> Path | None:
    """The dataset root to evaluate on: the one given, else the run's, when it has val images and masks."""
    root = Path(data_root) if data_root is not None else Path(run.config.get("data_root") or "")
    if data_root is not None and not (root / "val" / "masks").is_dir():
        raise FileNotFoundError(f"{root / 'val' / 'masks'}: not found; --data-root must be a dataset in the course layout")
    return root if str(root) and (root / "val" / "masks").is_dir() else None


def evaluate_run(run: Run, root: Path, device: str = "cpu", progress: bool = False) -> tuple[Scores, Any]:
    """Scores of the run's best checkpoint on root's val split, and the loaded model (for sample predictions)."""
    from faceparse_lib.checkpoint import load_checkpoint, resolve_checkpoint
    from faceparse_lib.data import FaceParsingDataset
    from faceparse_lib.evaluate import evaluate

    checkpoint = resolve_checkpoint(run.path)
    model = load_checkpoint(checkpoint, device=device)
    dataset = FaceParsingDataset(root, "val")
    matrix = evaluate(model, dataset, progress=progress)
    return scores_of_matrix(matrix, f"{checkpoint.name} evaluated on {len(dataset)} val images of {root}"), model


def sample_predictions(model: Any, root: Path, count: int = SAMPLE_IMAGES) -> tuple[list[tuple], list[str]]:
    """(image, truth, prediction) for `count` val images spread over the split, and a title for each."""
    from faceparse_lib.data import FaceParsingDataset
    from faceparse_lib.evaluate import predict_image
    from faceparse_lib.render import image_miou

    dataset = FaceParsingDataset(root, "val")
    picks = np.unique(np.linspace(0, len(dataset) - 1, num=min(count, len(dataset))).round().astype(int))
    samples, titles = [], []
    for index in picks:
        image, mask = dataset[int(index)]
        pred = predict_image(model, image)
        samples.append((image, mask, pred))
        titles.append(f"{dataset.pairs[int(index)][0].stem}\nmIoU {image_miou(mask, pred):.3f}")
    return samples, titles


# --- writing ---


def markdown_table(frame: pd.DataFrame, index: bool = False) -> str:
    """A GitHub-flavoured markdown table (numbers with thousands separators, floats to 4 places, NaN as -)."""
    if index:
        frame = frame.reset_index()

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "-"
        if isinstance(value, (bool, np.bool_)):
            return str(value)
        if isinstance(value, (int, np.integer)):
            return f"{value:,}"
        if isinstance(value, (float, np.floating)):
            return f"{value:.4f}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


class _Writer:
    """Saves tables and figures under out_dir and remembers what it wrote, for report.md."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.written: list[Path] = []
        for sub in ("tables", "figures"):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
        for stale in [out_dir / "tables" / f"{t}.{ext}" for t in TABLES for ext in ("csv", "md")] + [
            out_dir / "figures" / f"{f}.png" for f in FIGURES
        ]:
            stale.unlink(missing_ok=True)

    def table(self, name: str, frame: pd.DataFrame, markdown: bool = True, index: bool = False) -> str:
        """Write tables/name.csv (and .md); returns the markdown table."""
        csv_path = self.out_dir / "tables" / f"{name}.csv"
        frame.to_csv(csv_path, index=index)
        self.written.append(csv_path)
        text = markdown_table(frame, index=index)
        if markdown:
            md_path = csv_path.with_suffix(".md")
            md_path.write_text(text)
            self.written.append(md_path)
        return text

    def figure(self, name: str, fig: Any) -> str:
        """Save figures/name.png; returns its path relative to out_dir."""
        path = self.out_dir / "figures" / f"{name}.png"
        fig.savefig(path, dpi=FIGURE_DPI)
        self.written.append(path)
        return f"figures/{name}.png"


def _links(name: str, markdown: bool = True) -> str:
    files = [f"[csv](tables/{name}.csv)"] + ([f"[md](tables/{name}.md)"] if markdown else [])
    return " (" + ", ".join(files) + ")"


def write_report(
    run_dirs: Sequence[str | Path] | str | Path,
    out_dir: str | Path = "report",
    data_root: str | Path | None = None,
    samples: int = SAMPLE_IMAGES,
    device: str = "cpu",
    progress: bool = False,
) -> Path:
    """Write the tables, figures and report.md of the first run (the others compared with it); returns report.md.

    Per-class F1, the confusion matrix and sample predictions need the best model's predictions: read from the
    run's eval_val.json when `python -m faceparse_lib evaluate` left one, else computed on the val split of
    `data_root` (default: the run's own) when it exists; without either they are left out, and report.md says why.
    """
    from faceparse_lib import plots

    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    if not run_dirs:
        raise ValueError("no run dir given")
    runs = [read_run(path) for path in run_dirs]
    run, out = runs[0], Path(out_dir)
    writer = _Writer(out)
    md: list[str] = [f"# Face parsing on CelebAMask-HQ: run `{run.name}`", "",
                     f"Generated by `python -m faceparse_lib figures` from `{run.path}`"
                     + (f" (compared with {', '.join(f'`{r.path}`' for r in runs[1:])})" if runs[1:] else "")
                     + ". Sections follow the seed course report; section 6 goes beyond it.", ""]

    # 1. Model (Table 1) and parameters.
    num_classes = int(run.config.get("num_classes", NUM_CLASSES))
    models = list(dict.fromkeys(r.config.get("model", SEED_MODEL) for r in runs))
    params = parameter_table(models, num_classes)
    total = int(params[(params["model"] == models[0]) & (params["part"] == "total")]["parameters"].iloc[0])
    md += ["## 1 Model", "", writer.table("model_parameters", params),
           "*Table 1: Model structure: parameters of each part*" + _links("model_parameters"), "",
           f"The run's model `{models[0]}` has **{total:,}** parameters; the seed report's DeepLabV3+ "
           f"(`{SEED_MODEL}`) has **{SEED_TOTAL_PARAMETERS:,}**.", ""]

    # 2. Class weights (Table 2).
    method = run.config.get("class_weights")
    md += ["## 2 Loss function: class pixel counts and weights", "",
           writer.table("class_weights", class_weights_table(run.weights), index=True),
           "*Table 2: Pixels and weight of every class, beside the seed report's (5,000 training masks)*"
           + _links("class_weights"), ""]
    if run.weights is None:
        md += [f"The run trained with plain cross-entropy (class_weights {method!r}); only the report's column is shown.", ""]
    else:
        md += [f"The run's weights are `{run.weights.get('method')}` weights counted on "
               f"{run.weights.get('n_images', '?'):,} training masks.", ""]

    # 3. Environment (Table 3).
    env, source = environment_table(run.config)
    md += ["## 3 Environment", "", writer.table("environment", env),
           f"*Table 3: Training environment, {source}*" + _links("environment"), ""]

    # 4. Training curves (Figures 1 and 2).
    md += ["## 4 Training curves", "", f"![Figure 1]({writer.figure('fig1_loss', plots.loss_curves(run.log))})", "",
           "*Figure 1: The main head's loss on training batches and on the val split; dashed, the training total "
           "(main + aux weight · aux)*", ""]
    best = best_val_row(run.log)
    if best is None:
        md += [f"No validation row in {run.path / LOG_FILE} yet: Figure 2 is left out.", ""]
    else:
        fig2 = writer.figure("fig2_miou", plots.miou_curve(run.log))
        md += [f"![Figure 2]({fig2})", "", "*Figure 2: Validation mIoU; the star marks the best iteration*", "",
               f"The best validation mIoU is **{best['miou']:.4f}** at iteration {int(best['iteration']):,} "
               f"of {int(run.log['iteration'].max()):,} (the seed report: ≈0.77 near 30,000 of 40,000).", ""]

    # 5. Runs compared.
    md += ["## 5 Runs", "", writer.table("runs", runs_table(runs)), "*Table 4: The runs*" + _links("runs"), ""]
    if len(runs) > 1:
        fig = plots.runs_overlay({r.label: r.log for r in runs})
        md += [f"![Runs compared]({writer.figure('runs_miou', fig)})", "",
               "*Figure 3: Validation mIoU of every run*", ""]

    # 6. Beyond the seed report: per-class scores, confusion matrix, sample predictions.
    md += ["## 6 Beyond the seed report", ""]
    md += _best_model_section(run, writer, data_root, samples, device, progress)

    report = out / "report.md"
    report.write_text("\n".join(md).rstrip() + "\n")
    log.info("wrote %s and %d tables/figures", report, len(writer.written))
    return report


def _best_model_section(run: Run, writer: _Writer, data_root: str | Path | None, samples: int, device: str,
                        progress: bool) -> list[str]:
    """Per-class chart and table, confusion matrix and sample predictions, from what is available."""
    from faceparse_lib import plots

    md: list[str] = []
    root = val_data_root(run, data_root)
    model = None
    scores = saved_eval_scores(run)
    has_checkpoint = any((run.path / name).is_file() for name in ("best.pt", "last.pt"))
    if scores is None and root is not None and has_checkpoint:
        scores, model = evaluate_run(run, root, device, progress)
    if scores is None:
        scores = log_scores(run)
    if scores is None:
        return [f"No per-class scores: {run.path / LOG_FILE} has no validation row, and no {EVAL_FILE} or "
                "checkpoint with val data was found.", ""]

    table = pd.DataFrame({"class": CLASS_TITLES, "IoU": scores.iou})
    if scores.f1 is not None:
        table["F1"] = scores.f1
    table.index.name = "index"
    fig = plots.class_scores_chart(scores.iou, scores.f1, title=f"Per-class scores ({scores.source})")
    md += [f"![Per-class scores]({writer.figure('per_class_scores', fig)})", "",
           f"*Figure 4: Per-class IoU{' and F1' if scores.f1 is not None else ''}, from {scores.source}*", "",
           writer.table("per_class_scores", table, index=True),
           "*Table 5: Per-class scores*" + _links("per_class_scores"), ""]
    if scores.matrix is None:
        why = ("no checkpoint in the run dir" if not has_checkpoint
               else f"no val data found (pass --data-root; the run's data_root is {run.config.get('data_root')!r})")
        md += [f"Per-class F1, the confusion matrix and sample predictions need the model's predictions: {why}.", ""]
        return md

    counts = pd.DataFrame(scores.matrix.matrix.cpu().numpy(), index=list(CLASSES), columns=list(CLASSES))
    counts.index.name = "true \\ predicted"
    writer.table("confusion_matrix", counts, markdown=False, index=True)
    fig = plots.confusion_matrix_chart(scores.matrix)
    md += [f"![Confusion matrix]({writer.figure('confusion_matrix', fig)})", "",
           "*Figure 5: Confusion matrix, each row normalised to the true class's pixels*"
           + _links("confusion_matrix", markdown=False), ""]

    if root is None or not has_checkpoint or samples < 1:
        md += ["Sample predictions left out: they need the run's checkpoint and val data (--data-root).", ""]
        return md
    if model is None:
        from faceparse_lib.checkpoint import load_checkpoint

        model = load_checkpoint(run.path, device=device)
    triples, titles = sample_predictions(model, root, samples)
    fig = plots.prediction_grid(triples, titles)
    md += [f"![Sample predictions]({writer.figure('sample_predictions', fig)})", "",
           "*Figure 6: Val images, ground truth, prediction of the best checkpoint, and its errors (red)*", ""]
    return md
