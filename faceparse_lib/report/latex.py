"""The report a student hands in, as LaTeX: report.tex beside the figures and tables `write_report` made.

The skeleton follows what the course grades (the model and its parameter count, the loss functions, the processing
steps, the F-measure on the test set, the experimental analysis) in the course's format: A4, a sans font at 10 pt
(Helvetica, the TeX stand-in for Arial), at most five pages, handed in as `[YOUR_NAME]_[MATRIC_NO]_[project_1].pdf`.
Facts come from the run; every sentence only the student can write is a red `\\towrite{...}`, never invented.
The folder (report.tex, figures/, tables/) uploads to Overleaf as it is, or compiles with `pdflatex report.tex`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from faceparse_lib.data.rules import METRIC_TITLES, rule_set
from faceparse_lib.report.runs import Run, best_val_row, checkpoint_iteration, run_metric
from faceparse_lib.training.describe import recipe_lines, training_sentence

REPORT_TEX = "report.tex"
EDITED_TEX = "report.new.tex"  # where a fresh skeleton goes when the student has edited report.tex
_SKELETON_HASH = ".report.tex.sha256"  # the hash of the skeleton last written, to tell an edited report.tex
PAGE_LIMIT = 5
HAND_IN_NAME = "{name}_{matric}_project_1.pdf"  # the course's [YOUR_NAME]_[MATRIC_NO]_[project_1].pdf
_ESCAPES = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}

PREAMBLE = r"""\documentclass[10pt,a4paper]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage[T1]{fontenc}
\usepackage{helvet}% Helvetica: the TeX stand-in for the Arial 10 the course asks for
\renewcommand{\familydefault}{\sfdefault}
\usepackage{graphicx,booktabs,xcolor,float}
\setlength{\parindent}{0pt}
\setlength{\parskip}{4pt}
\newcommand{\towrite}[1]{\textcolor{red}{[To write: #1]}}
% A table or figure no wider than the text: shrunk when it would overflow, never enlarged.
\newcommand{\fitwidth}[1]{\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{#1}}
"""


@dataclass
class ReportFacts:
    """What the LaTeX report says of a run, gathered while `write_report` wrote its tables and figures."""

    run: Run
    runs: Sequence[Run]
    model: str
    parameters: int
    written: frozenset[str]  # paths relative to the report folder, e.g. "figures/fig1_loss.pdf"
    banner: str | None = None
    score_source: str | None = None  # where the per-class scores came from


def latex_text(text: object) -> str:
    """Plain text with LaTeX's special characters escaped."""
    return "".join(_ESCAPES.get(c, c) for c in str(text))


def hand_in_name(name: str, matric: str) -> str:
    """The PDF's name as the course asks for it, e.g. Tan_Ah_Kow_A1234567B_project_1.pdf."""
    return HAND_IN_NAME.format(name=safe_file_part(name), matric=safe_file_part(matric).upper())


def safe_file_part(text: str) -> str:
    """Text as a piece of a file name: runs of anything but letters, digits, '.' and '-' become one '_'."""
    return re.sub(r"[^\w.-]+", "_", text.strip()).strip("_")


def write_report_tex(out_dir: Path, facts: ReportFacts, name: str | None = None, matric: str | None = None) -> Path:
    """Write out_dir/report.tex from `facts`, or report.new.tex beside it when the student has edited report.tex.

    The student's name and matric number stay placeholders unless given. A report.tex that differs from the
    skeleton the kit last wrote there holds the student's writing: it is never overwritten.
    """
    text = report_tex(facts, name, matric)
    path, record = out_dir / REPORT_TEX, out_dir / _SKELETON_HASH
    if path.is_file() and (not record.is_file() or record.read_text().strip() != _sha256(path.read_bytes())):
        path = out_dir / EDITED_TEX
    path.write_text(text, encoding="utf-8")
    if path.name == REPORT_TEX:
        record.write_text(_sha256(path.read_bytes()) + "\n")
    return path


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def report_tex(facts: ReportFacts, name: str | None = None, matric: str | None = None) -> str:
    """The whole LaTeX document."""
    name_tex = latex_text(name) if name else r"\towrite{YOUR NAME}"
    matric_tex = latex_text(matric.strip().upper()) if matric else r"\towrite{MATRIC NO}"
    hand_in = hand_in_name(name or "YOUR_NAME", matric or "MATRIC_NO")
    lines = [f"% The report skeleton the kit wrote from a run: compile it with pdflatex (or upload this folder to "
             f"Overleaf),\n% replace every red [To write: ...], and hand it in as {hand_in} (at most {PAGE_LIMIT} A4 "
             "pages).", *_compiler_note(name), PREAMBLE.rstrip(), rf"\newcommand{{\studentname}}{{{name_tex}}}",
             rf"\newcommand{{\matricno}}{{{matric_tex}}}",
             r"\begin{document}",
             r"\begin{center}{\Large\bfseries Face parsing on CelebAMask-HQ}\\[2pt]"
             r"\studentname{} (\matricno)\end{center}"]
    if facts.banner:
        lines.append(r"\begin{center}\colorbox{red}{\color{white}\bfseries " + latex_text(facts.banner)
                     + r"}\end{center}")
    for section in (_introduction, _model, _losses, _processing, _training, _results, _analysis, _conclusion):
        lines += section(facts)
    return "\n".join(lines + [r"\end{document}"]) + "\n"


def _compiler_note(name: str | None) -> list[str]:
    """A first-lines note when the name holds letters pdflatex's T1 fonts lack (Chinese, Tamil, ...)."""
    if name and any(ord(c) > 0x24F for c in name):  # beyond Latin Extended-B
        return ["% Your name has letters pdflatex cannot set: compile with XeLaTeX (Overleaf: Menu, Compiler), or "
                "write it in Latin letters."]
    return []


def _table(facts: ReportFacts, name: str, caption: str, size: str = r"\small") -> list[str]:
    """A table float that inputs tables/name.tex, or nothing when write_report did not write it."""
    if f"tables/{name}.tex" not in facts.written:
        return []
    return [r"\begin{table}[H]\centering" + size, rf"\fitwidth{{\input{{tables/{name}.tex}}}}",
            rf"\caption{{{caption}}}\label{{tab:{name}}}", r"\end{table}"]


def _figures(facts: ReportFacts, figures: Sequence[tuple[str, str]], width: float) -> list[str]:
    """One figure float holding the written figures side by side, each a subfigure-like minipage with its caption."""
    shown = [(name, caption) for name, caption in figures if f"figures/{name}.pdf" in facts.written]
    if not shown:
        return []
    lines = [r"\begin{figure}[H]\centering"]
    for name, caption in shown:
        lines += [rf"\begin{{minipage}}[t]{{{width}\linewidth}}\centering",
                  rf"\includegraphics[width=\linewidth]{{figures/{name}.pdf}}",
                  rf"\caption{{{caption}}}\label{{fig:{name}}}", r"\end{minipage}\hfill"]
    lines[-1] = lines[-1].removesuffix(r"\hfill")
    return lines + [r"\end{figure}"]


def _introduction(facts: ReportFacts) -> list[str]:
    return [r"\section{Introduction}",
            r"\towrite{the task in two sentences: 19-class face parsing of CelebAMask-HQ faces, ranked by the "
            r"per-image F-score; and what you tried, in one sentence}"]


def _model(facts: ReportFacts) -> list[str]:
    rules = rule_set(facts.run.config.get("rules", "seed"))
    cap = (f" (the course asks for fewer than {rules.max_parameters:,})" if rules.max_parameters else "")
    scratch = ", from ImageNet weights" if facts.run.config.get("pretrained") else ", trained from scratch"
    return [r"\section{Model}",
            rf"The network is \texttt{{{latex_text(facts.model)}}}: "
            rf"\textbf{{{facts.parameters:,}}} parameters{latex_text(cap)}{scratch}. "
            r"Table~\ref{tab:model_parts} gives the parameters of each part.",
            *_table(facts, "model_parts", "The model's parts and their parameters"),
            r"\towrite{why this architecture: what its encoder and decoder do, and what else you considered "
            r"under the cap}"]


def _losses(facts: ReportFacts) -> list[str]:
    loss_line = recipe_lines(facts.run.config)[0].removeprefix("Loss: ")
    weighted = facts.run.config.get("class_weights")
    lines = [r"\section{Loss functions}", f"Training minimises {latex_text(loss_line)}."]
    if weighted:
        lines += [f"Each class's cross-entropy is weighted by the `{latex_text(weighted)}' rule from its pixel "
                  r"count over the training masks (Table~\ref{tab:class_weights}), so that small classes such as "
                  r"the eyes, the ears and the necklace count.",
                  *_table(facts, "class_weights", "Pixels and weight of every class", size=r"\scriptsize")]
    return lines + [r"\towrite{why these terms suit a per-image F-score that scores every class an image holds}"]


def _processing(facts: ReportFacts) -> list[str]:
    config = facts.run.config
    steps = [line.replace(": ", r":} ", 1) for line in map(latex_text, recipe_lines(config)[1:])]
    sentence = training_sentence(config, checkpoint_iteration(facts.run))
    return [r"\section{Processing steps}", r"\begin{itemize}\setlength{\itemsep}{0pt}",
            *[r"\item \textbf{" + step for step in steps],
            r"\item \textbf{Data:} " + latex_text(sentence[0].upper() + sentence[1:]) + ".",
            r"\item \textbf{Test-time augmentation:} \towrite{none, or the horizontal flip with left and right "
            r"swapped back (your hand-in's Readme.txt says which)}",
            r"\end{itemize}"]


def _training(facts: ReportFacts) -> list[str]:
    metric = run_metric(facts.run)
    figures = [("fig1_loss", "Training and validation loss"),
               (f"fig2_{metric}", f"Validation {METRIC_TITLES[metric]}; the star marks the checkpoint kept")]
    return [r"\section{Training}", *_table(facts, "environment", "Where the model trained"),
            *_figures(facts, figures, 0.48),
            r"\towrite{what the curves show: when the score stopped rising, and whether the model overfits}"]


def _results(facts: ReportFacts) -> list[str]:
    metric = run_metric(facts.run)
    best = best_val_row(facts.run.log, metric)
    holdout = facts.run.config.get("holdout")
    where = f"the {holdout} held-out training images" if holdout else "the validation images"
    lines = [r"\section{Results}"]
    if best is not None and metric in best.index:
        title = METRIC_TITLES[metric]
        article = "an" if title[0].upper() in "AEFHILMNORSX" else "a"  # said as letters: an F-score, an mIoU
        lines.append(f"On {latex_text(where)} the kept checkpoint scores {article} {latex_text(title)} of "
                     rf"\textbf{{{float(best[metric]):.4f}}} (iteration {int(best['iteration']):,}).")
    lines += [r"On the test set (the leaderboard's test phase) it scores \textbf{\towrite{your test F-score from "
              r"the leaderboard}}.",
              *_figures(facts, [("per_class_scores", "Per-class scores" + (f" ({latex_text(facts.score_source)})"
                                                                         if facts.score_source else ""))], 1.0),
              *_figures(facts, [("sample_predictions", "Images, ground truth, prediction and errors (red)")], 0.7),
              r"\towrite{which classes fail and why (size, rarity, left and right), with an example}"]
    return lines


def _analysis(facts: ReportFacts) -> list[str]:
    metric = run_metric(facts.run)
    lines = [r"\section{Experimental analysis}"]
    if len(facts.runs) > 1:
        lines += [r"Table~\ref{tab:runs} compares the runs; Figure~\ref{fig:runs_" + metric + "} overlays their "
                  r"validation curves.",
                  *_table(facts, "runs", "The runs compared", size=r"\scriptsize"),
                  *_figures(facts, [(f"runs_{metric}", f"Validation {METRIC_TITLES[metric]} of every run")], 0.6)]
    else:
        lines += ["% One run is reported: pass the run dirs of your other experiments to "
                  "`python -m faceparse_lib figures` to tabulate and overlay them here.",
                  *_table(facts, "runs", "The run", size=r"\scriptsize")]
    return lines + [r"\towrite{what each experiment changed, what it did to the score, and what you conclude}"]


def _conclusion(facts: ReportFacts) -> list[str]:
    return [r"\section{Conclusion}", r"\towrite{what worked, what did not, and what you would try next}"]
