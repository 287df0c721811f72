"""The report's tables as DataFrames: parameters by part, class weights beside the seed's, environment, runs; markdown."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from faceparse_lib.classes import CLASS_TITLES, CLASSES, NUM_CLASSES
from faceparse_lib.data.rules import METRIC_NAMES
from faceparse_lib.models.names import SEED_MODEL
from faceparse_lib.report.latex import latex_text
from faceparse_lib.report.runs import Run, best_val_row

# The seed report's Table 1 (its names for the parts) and its stated total.
SEED_PARTS = {"backbone": "ResNet-50", "decode head": "DepthwiseSeparableASPPHead", "auxiliary head": "FCNHead"}
SEED_TOTAL_PARAMETERS = 43_589_878
# Module attribute -> the part's name in the tables (the seed report's words where it has one).
PART_NAMES = {"encoder": "backbone", "decode_head": "decode head", "auxiliary_head": "auxiliary head"}


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


def parts_of_model(name: str, num_classes: int = NUM_CLASSES) -> list[tuple[str, str, int]]:
    """model_parts of a model built by name, on the meta device (shapes only: no memory, no initialisation)."""
    import torch

    from faceparse_lib.models.zoo import build_model

    with torch.device("meta"):
        return model_parts(build_model(name, num_classes=num_classes))


def parameter_table(model_names: Sequence[str], num_classes: int = NUM_CLASSES) -> pd.DataFrame:
    """Table 1: parameters of each part of each named model and its total, the seed report's model always included."""
    rows = []
    for name in dict.fromkeys([*model_names, SEED_MODEL]):
        parts = parts_of_model(name, num_classes)
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
    from faceparse_lib.data.stats import reference_counts

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
        from faceparse_lib.training.environment import environment

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
    """One row per run: rules, model, class weights, iterations, and the validation best.pt holds (the best by the
    run's rules: the F-score first under the challenge, mIoU under the seed rules), its other scores, training time."""
    from faceparse_lib.report.runs import run_metric

    rows = []
    for run in runs:
        metric = run_metric(run)
        best = best_val_row(run.log, metric)
        order = [metric] + [m for m in ("fscore", "miou") if m != metric]
        scores = {METRIC_NAMES[m]: float(best[m]) if best is not None and m in best.index else float("nan")
                  for m in order}
        rows.append({
            "run": run.name,
            "rules": run.config.get("rules", "seed"),
            "model": run.config.get("model", "?"),
            "class weights": run.config.get("class_weights") or "none",
            "iterations": int(run.log["iteration"].max()) if len(run.log) else 0,
            "best.pt at iteration": int(best["iteration"]) if best is not None else None,
            **scores,
            "mean F1": float(best["mean_f1"]) if best is not None and "mean_f1" in best else float("nan"),
            "hours": float(run.log["seconds"].max()) / 3600 if "seconds" in run.log else float("nan"),
        })
    return pd.DataFrame(rows)


def _number_text(value: Any, missing: str) -> str | None:
    """A table cell's text for a number (thousands separators, floats to 4 places, NaN/None as `missing`), else None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return missing
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.4f}"
    return None


def latex_table(frame: pd.DataFrame, index: bool = False) -> str:
    """A booktabs LaTeX tabular (numbers as in `markdown_table`), to \\input into a report."""
    if index:
        frame = frame.reset_index()
    def cell(value: Any) -> str:
        number = _number_text(value, missing="--")
        return number if number is not None else latex_text(value)

    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = ["\\begin{tabular}{" + "".join("r" if n else "l" for n in numeric) + "}", "\\toprule",
             " & ".join(latex_text(c) for c in frame.columns) + " \\\\", "\\midrule"]
    lines += [" & ".join(cell(v) for v in row) + " \\\\" for row in frame.itertuples(index=False)]
    return "\n".join(lines + ["\\bottomrule", "\\end{tabular}"]) + "\n"


def markdown_table(frame: pd.DataFrame, index: bool = False) -> str:
    """A GitHub-flavoured markdown table (numbers with thousands separators, floats to 4 places, NaN as -)."""
    if index:
        frame = frame.reset_index()

    def cell(value: Any) -> str:
        number = _number_text(value, missing="-")
        return number if number is not None else str(value).replace("|", "\\|").replace("\n", " ")

    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


# --- comparing evaluations (notebook 4: with and without TTA) ---


def score_comparison(matrices: dict[str, Any], fscores: dict[str, Any] | None = None,
                     metric: str = "miou") -> pd.DataFrame:
    """The scores of each named way of predicting (a ConfusionMatrix, and an FScore where given), one column each.

    Rows: the F-score (per image) where `fscores` are given, mIoU, mean F1, pixel accuracy, with the rules' `metric`
    first; a "change" column holds the last minus the first.
    """
    names = list(matrices)
    rows = {METRIC_NAMES["miou"]: [m.miou() for m in matrices.values()], "mean F1": [m.mean_f1() for m in matrices.values()],
            "pixel accuracy": [m.pixel_accuracy() for m in matrices.values()]}
    if fscores is not None:
        rows = {METRIC_NAMES["fscore"]: [fscores[name].mean() for name in names], **rows}
    first = METRIC_NAMES[metric]
    order = [first] + [r for r in rows if r != first] if first in rows else list(rows)
    frame = pd.DataFrame({name: [rows[r][i] for r in order] for i, name in enumerate(names)}, index=order)
    if len(names) > 1:
        frame["change"] = frame[names[-1]] - frame[names[0]]
    return frame


def class_score_comparison(matrices: dict[str, Any], fscores: dict[str, Any] | None = None,
                         metric: str = "miou") -> pd.DataFrame:
    """Per-class score of each named way of predicting: the per-class F under the challenge (`metric` "fscore",
    with `fscores`), else IoU; one column each, plus the last minus the first."""
    names = list(matrices)
    if metric == "fscore" and fscores is not None:
        frame = pd.DataFrame({name: np.asarray(fscores[name].per_class()) for name in names}, index=list(CLASSES))
    else:
        frame = pd.DataFrame({name: np.asarray(m.iou()) for name, m in matrices.items()}, index=list(CLASSES))
    if len(names) > 1:
        frame["change"] = frame[names[-1]] - frame[names[0]]
    return frame


def class_table(matrix: Any, fscore: Any | None = None, metric: str = "miou") -> pd.DataFrame:
    """Per-class scores of one evaluation, worst first by the rules' score: per-class F (challenge) or IoU."""
    table = matrix.table()
    if fscore is not None:
        table.insert(0, METRIC_NAMES["fscore"], fscore.per_class())
    key = METRIC_NAMES["fscore"] if metric == "fscore" and fscore is not None else "IoU"
    return table.sort_values(key)


def best_row_class_table(log: pd.DataFrame, metric: str, iteration: int | None = None) -> pd.DataFrame:
    """Per-class F (where logged) and IoU of the validation best.pt holds, worst first.

    That is the row of `iteration` (best.pt's own, read from it) when given and logged, else the best by `metric`.
    The rules' score comes first (per-class F under the challenge, IoU under the seed rules) and orders the rows.
    """
    val = log[(log["kind"] == "val") & log[metric].notna()]
    if val.empty:
        raise ValueError(f"log has no validation rows with {metric!r}")
    at = val[val["iteration"] == iteration]
    if iteration is not None and at.empty:
        import logging

        logging.getLogger(__name__).warning("log.csv has no validation row of best.pt's iteration %d (a resumed run "
                                            "dropped it?); showing the best logged one", iteration)
    best = at.iloc[0] if len(at) else val.loc[val[metric].idxmax()]
    columns = {METRIC_NAMES["fscore"]: "f_", "IoU": "iou_"}
    frame = pd.DataFrame({title: [best.get(f"{prefix}{name}", np.nan) for name in CLASSES]
                          for title, prefix in columns.items()}, index=pd.Index(CLASSES, name="class"))
    frame = frame.dropna(axis=1, how="all").astype(float)
    if metric == "miou":
        frame = frame[["IoU", *(c for c in frame.columns if c != "IoU")]]
    frame = frame.sort_values(frame.columns[0])
    frame.attrs["iteration"] = int(best["iteration"])
    return frame
