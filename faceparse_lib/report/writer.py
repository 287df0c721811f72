"""The report of a training run: tables and figures from its run dir, and report/report.md in the seed report's order.

`write_report(run_dirs, out_dir)` reads each run dir (`config.json`, `log.csv`, `class_weights.json`, `best.pt`),
writes `out_dir/tables/*.csv|md`, `out_dir/figures/*.png` and `out_dir/report.md` embedding them. The first run
dir is the one reported; any others are compared with it (one curve each, and a table).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from faceparse_lib.classes import CLASS_TITLES, CLASSES, NUM_CLASSES
from faceparse_lib.data.rules import METRIC_TITLES, rule_set
from faceparse_lib.data.synthetic import DEMO_BANNER, is_synthetic_cache
from faceparse_lib.models.names import SEED_MODEL
from faceparse_lib.report.latex import REPORT_TEX, ReportFacts, write_report_tex
from faceparse_lib.report.runs import (EVAL_FILE, LOG_FILE, SAMPLE_IMAGES, Run, best_val_row, checkpoint_iteration,
                                       evaluate_run, log_scores, read_run, run_metric, sample_predictions,
                                       saved_eval_scores, val_data_root)
from faceparse_lib.report.tables import (SEED_TOTAL_PARAMETERS, class_weights_table, environment_table, latex_table,
                                         markdown_table, parameter_table, runs_table)

log = logging.getLogger(__name__)

FIGURE_DPI = 130
# Every file write_report may write; the ones a call does not write are removed, so the report never shows stale ones.
TABLES = ("model_parameters", "model_parts", "class_weights", "environment", "runs", "per_class_scores", "confusion_matrix")
# Figure 2 and the runs overlay are named by the score they show ("fig2_fscore" under the challenge's rules).
FIGURES = ("fig1_loss", "fig2_miou", "fig2_fscore", "per_class_scores", "confusion_matrix", "sample_predictions",
           "runs_miou", "runs_fscore")


class _Writer:
    """Saves tables and figures under out_dir and remembers what it wrote, for report.md."""

    def __init__(self, out_dir: Path, banner: str | None = None):
        self.out_dir, self.banner = out_dir, banner
        self.written: list[Path] = []
        for sub in ("tables", "figures"):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
        for stale in [out_dir / "tables" / f"{t}.{ext}" for t in TABLES for ext in ("csv", "md", "tex")] + [
            out_dir / "figures" / f"{f}.{ext}" for f in FIGURES for ext in ("png", "pdf")
        ]:
            stale.unlink(missing_ok=True)

    def table(self, name: str, frame: pd.DataFrame, markdown: bool = True, index: bool = False) -> str:
        """Write tables/name.csv, .tex (for a LaTeX report) and .md; returns the markdown table."""
        csv_path = self.out_dir / "tables" / f"{name}.csv"
        frame.to_csv(csv_path, index=index)
        tex_path = csv_path.with_suffix(".tex")
        tex_path.write_text(latex_table(frame, index=index))
        self.written += [csv_path, tex_path]
        text = markdown_table(frame, index=index)
        if markdown:
            md_path = csv_path.with_suffix(".md")
            md_path.write_text(text)
            self.written.append(md_path)
        return text

    def image(self, alt: str, name: str, fig: Any) -> str:
        """Save the figure (PNG and PDF); returns the markdown that shows the PNG and links the PDF."""
        png = self.figure(name, fig)
        return f"![{alt}]({png}) ([pdf](figures/{name}.pdf))"

    def figure(self, name: str, fig: Any) -> str:
        """Save figures/name.png and a vector figures/name.pdf (for a LaTeX report); returns the PNG's path."""
        path = self.out_dir / "figures" / f"{name}.png"
        if self.banner:
            from faceparse_lib.visual.figures import add_banner

            add_banner(fig, self.banner)
        fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight" if self.banner else None)
        fig.savefig(path.with_suffix(".pdf"), bbox_inches="tight" if self.banner else None)
        self.written += [path, path.with_suffix(".pdf")]
        return f"figures/{name}.png"


def _links(name: str, markdown: bool = True) -> str:
    files = [f"[csv](tables/{name}.csv)", f"[tex](tables/{name}.tex)"] + ([f"[md](tables/{name}.md)"] if markdown else [])
    return " (" + ", ".join(files) + ")"


def write_report(
    run_dirs: Sequence[str | Path] | str | Path,
    out_dir: str | Path = "report",
    data_root: str | Path | None = None,
    samples: int = SAMPLE_IMAGES,
    device: str = "cpu",
    progress: bool = False,
    name: str | None = None,
    matric: str | None = None,
) -> Path:
    """Write the tables, figures, report.md and report.tex of the first run (the others compared with it).

    report.tex is the skeleton of the report a student hands in (`report.latex`), with `name` and `matric` filled in
    when given; returns report.md.

    Per-class F1, the confusion matrix and sample predictions need the best model's predictions: read from the
    run's eval_val.json when `python -m faceparse_lib evaluate` left one, else computed on the val split of
    `data_root` (default: the run's own) when it exists; without either they are left out, and report.md says why.
    """
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    if not run_dirs:
        raise ValueError("no run dir given")
    runs = [read_run(path) for path in run_dirs]
    run, out = runs[0], Path(out_dir)
    demo = is_synthetic_cache(run.config.get("data_root") or "")
    writer = _Writer(out, DEMO_BANNER if demo else None)
    md: list[str] = [f"# Face parsing on CelebAMask-HQ: run `{run.name}`", "",
                     *([f"**{DEMO_BANNER}**: every figure, table and score below is the kit's demo.", ""] if demo else []),
                     f"Generated by `python -m faceparse_lib figures` from `{run.path}`"
                     + (f" (compared with {', '.join(f'`{r.path}`' for r in runs[1:])})" if runs[1:] else "")
                     + ". Sections follow the seed course report; section 6 goes beyond it.", ""]
    md += _rules_section(run, writer)
    model_md, model_name, parameters = _model_section(runs, writer)
    md += model_md
    md += _class_weights_section(run, writer)
    md += _environment_section(run, writer)
    md += _curves_section(run, writer)
    md += _runs_section(runs, writer)
    md += ["## 6 Beyond the seed report", ""]
    best_md, score_source = _best_model_section(run, writer, data_root, samples, device, progress)
    md += best_md

    report = out / "report.md"
    report.write_text("\n".join(md).rstrip() + "\n")
    written = frozenset(path.relative_to(out).as_posix() for path in writer.written)
    facts = ReportFacts(run, runs, model_name, parameters, written, writer.banner, score_source)
    tex = write_report_tex(out, facts, name, matric)
    if tex.name != REPORT_TEX:
        log.warning("%s may hold your edits (it differs from the skeleton last written there), so it was left as it "
                    "is: the new skeleton is %s beside it (copy what you need across)", out / REPORT_TEX, tex)
    log.info("wrote %s, %s and %d tables/figures", report, tex.name, len(writer.written))
    return report


def _rules_section(run: Run, writer: _Writer) -> list[str]:
    """The line that says which course rules the run followed, and its best score by them, first."""
    rules = rule_set(run.config.get("rules", "seed"))
    best = best_val_row(run.log, rules.metric)
    lines = [f"**Rules: {rules.title}** — ranked by {METRIC_TITLES[rules.metric]}"
             + (f", models under {rules.max_parameters:,} parameters" if rules.max_parameters else "")
             + ("" if rules.pretrained_allowed else ", trained from scratch")
             + (f"; validated on {run.config['holdout']} training images held out" if run.config.get("holdout") else "")
             + "."]
    if best is not None and rules.metric in best.index:
        lines[0] += (f" Best validation {METRIC_TITLES[rules.metric]}: **{best[rules.metric]:.4f}** at iteration "
                     f"{int(best['iteration']):,}.")
    return lines + [""]


def _model_section(runs: Sequence[Run], writer: _Writer) -> tuple[list[str], str, int]:
    """Section 1: Table 1, the parameters of each part of the run's model beside the seed's; the model and its total.

    Also writes tables/model_parts (the run's model alone), which the LaTeX report shows.
    """
    run = runs[0]
    num_classes = int(run.config.get("num_classes", NUM_CLASSES))
    models = list(dict.fromkeys(r.config.get("model", SEED_MODEL) for r in runs))
    params = parameter_table(models, num_classes)
    own = params[params["model"] == models[0]]
    total = int(own[own["part"] == "total"]["parameters"].iloc[0])
    writer.table("model_parts", own[["part", "module", "parameters"]], markdown=False)
    return ["## 1 Model", "", writer.table("model_parameters", params),
            "*Table 1: Model structure: parameters of each part*" + _links("model_parameters"),
            "(the run's model alone, as report.tex shows it" + _links("model_parts", markdown=False) + ")", "",
            f"The run's model `{models[0]}` has **{total:,}** parameters; the seed report's DeepLabV3+ "
            f"(`{SEED_MODEL}`) has **{SEED_TOTAL_PARAMETERS:,}**.", ""], models[0], total


def _class_weights_section(run: Run, writer: _Writer) -> list[str]:
    """Section 2: Table 2, the run's class pixel counts and weights beside the seed report's."""
    md = ["## 2 Loss function: class pixel counts and weights", "",
          writer.table("class_weights", class_weights_table(run.weights), index=True),
          "*Table 2: Pixels and weight of every class, beside the seed report's (5,000 training masks)*"
          + _links("class_weights"), ""]
    if run.weights is None:
        method = run.config.get("class_weights")
        return md + [f"The run trained without class weights (class_weights {method!r}, loss "
                     f"{run.config.get('loss', 'ce')!r}); only the report's column is shown.", ""]
    return md + [f"The run's weights are `{run.weights.get('method')}` weights counted on "
                 f"{run.weights.get('n_images', '?'):,} training masks.", ""]


def _environment_section(run: Run, writer: _Writer) -> list[str]:
    """Section 3: Table 3, where the run trained."""
    env, source = environment_table(run.config)
    return ["## 3 Environment", "", writer.table("environment", env),
            f"*Table 3: Training environment, {source}*" + _links("environment"), ""]


def _curves_section(run: Run, writer: _Writer) -> list[str]:
    """Section 4: Figure 1 (losses) and Figure 2 (the validation score, best marked)."""
    from faceparse_lib.visual import figures

    md = ["## 4 Training curves", "", writer.image("Figure 1", "fig1_loss", figures.loss_curves(run.log)), "",
          "*Figure 1: The main head's loss on training batches and on the validation images; dashed, the "
          "training total (with the auxiliary head's and any extra term's share)*", ""]
    metric = run_metric(run)
    best = best_val_row(run.log, metric)
    if best is None:
        return md + [f"No validation row in {run.path / LOG_FILE} yet: Figure 2 is left out.", ""]
    title = METRIC_TITLES[metric]
    curve = figures.score_curve(run.log, metric, best_iteration=checkpoint_iteration(run))
    fig2 = writer.image("Figure 2", f"fig2_{metric}", curve)
    seed = " (the seed report: ≈0.77 near 30,000 of 40,000)" if metric == "miou" else ""
    return md + [fig2, "", f"*Figure 2: Validation {title}; the star marks best.pt's iteration*", "",
                 f"The best validation {title} is **{best[metric]:.4f}** at iteration {int(best['iteration']):,} "
                 f"of {int(run.log['iteration'].max()):,}{seed}.", ""]


def _runs_section(runs: Sequence[Run], writer: _Writer) -> list[str]:
    """Section 5: Table 4 of the runs, and their validation curves overlaid when there are several."""
    from faceparse_lib.visual import figures

    md = ["## 5 Runs", "", writer.table("runs", runs_table(runs)), "*Table 4: The runs*" + _links("runs"), ""]
    if len(runs) > 1:
        metric = run_metric(runs[0])
        fig = figures.runs_overlay({r.label: r.log for r in runs}, metric=metric)
        md += [writer.image("Runs compared", f"runs_{metric}", fig), "",
               f"*Figure 3: Validation {METRIC_TITLES[metric]} of every run*", ""]
    return md


def _best_model_section(run: Run, writer: _Writer, data_root: str | Path | None, samples: int, device: str,
                        progress: bool) -> tuple[list[str], str | None]:
    """Per-class chart and table, confusion matrix and sample predictions, from what is available; and where the
    per-class scores came from (None without them)."""
    from faceparse_lib.visual import figures

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
                "checkpoint with val data was found.", ""], None

    metric = run_metric(run)
    fscore = scores.fscore if metric == "fscore" else None  # the rules' score first; the seed edition's is mIoU
    table = pd.DataFrame({"class": CLASS_TITLES, **({"F-score": fscore} if fscore is not None else {}), "IoU": scores.iou})
    if scores.f1 is not None:
        table["F1"] = scores.f1
    table.index.name = "index"
    fig = figures.class_scores_chart(scores.iou, scores.f1, title=f"Per-class scores ({scores.source})", fscore=fscore)
    shown = ", ".join(["F-score"] * (fscore is not None) + ["IoU"] + ["F1"] * (scores.f1 is not None))
    md += [writer.image("Per-class scores", "per_class_scores", fig), "",
           f"*Figure 4: Per-class {shown}, from {scores.source}*", "",
           writer.table("per_class_scores", table, index=True),
           "*Table 5: Per-class scores*" + _links("per_class_scores"), ""]
    if scores.matrix is None:
        why = ("no checkpoint in the run dir" if not has_checkpoint
               else f"no val data found (pass --data-root; the run's data_root is {run.config.get('data_root')!r})")
        md += [f"Per-class F1, the confusion matrix and sample predictions need the model's predictions: {why}.", ""]
        return md, scores.source

    counts = pd.DataFrame(scores.matrix.matrix.cpu().numpy(), index=list(CLASSES), columns=list(CLASSES))
    counts.index.name = "true \\ predicted"
    writer.table("confusion_matrix", counts, markdown=False, index=True)
    fig = figures.confusion_matrix_chart(scores.matrix)
    md += [writer.image("Confusion matrix", "confusion_matrix", fig), "",
           "*Figure 5: Confusion matrix, each row normalised to the true class's pixels*"
           + _links("confusion_matrix", markdown=False), ""]

    if root is None or not has_checkpoint or samples < 1:
        md += ["Sample predictions left out: they need the run's checkpoint and val data (--data-root).", ""]
        return md, scores.source
    if model is None:
        from faceparse_lib.models.checkpoint import load_checkpoint

        model = load_checkpoint(run.path, device=device)
    triples, titles = sample_predictions(model, root, samples, run.path, metric=metric)
    fig = figures.prediction_grid(triples, titles)
    md += [writer.image("Sample predictions", "sample_predictions", fig), "",
           "*Figure 6: Val images, ground truth, prediction of the best checkpoint, and its errors (red)*", ""]
    return md, scores.source
