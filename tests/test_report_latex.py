"""report.tex: the skeleton of the report a student hands in, written by `figures` beside its tables and figures."""

import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from fake_run import make_fake_run

from faceparse_lib.classes import CLASSES
from faceparse_lib.data.synthetic import make_synthetic_dataset
from faceparse_lib.report.latex import PAGE_LIMIT, hand_in_name, latex_text
from faceparse_lib.report.writer import write_report


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("data"), n_train=4, n_val=3, size=64)


def _challenge_run(path, data_root, weights, seed, best):
    run_dir = make_fake_run(path, data_root, weights, seed=seed)
    config = json.loads((run_dir / "config.json").read_text())
    config.update(rules="challenge", holdout=2, loss="ce+dice", ratio_range=[0.5, 2.0], rotate_degrees=15.0,
                  batch_size=8, optimizer="adamw", lr=5e-3, warmup_iterations=10)
    (run_dir / "config.json").write_text(json.dumps(config))
    log = pd.read_csv(run_dir / "log.csv")
    val = log["kind"] == "val"
    log.loc[val, "fscore"] = np.linspace(0.5, best, val.sum())
    for k, name in enumerate(CLASSES):
        log.loc[val, f"f_{name}"] = k / 20
    log.to_csv(run_dir / "log.csv", index=False)
    return run_dir


@pytest.fixture(scope="module")
def report(tmp_path_factory, data_root):
    """report.tex of a challenge run compared with a second run, with every figure (the longest report)."""
    work = tmp_path_factory.mktemp("runs")
    runs = [_challenge_run(work / "weighted", data_root, "log2", 0, 0.8125),
            _challenge_run(work / "unweighted", data_root, None, 1, 0.75)]
    out = work / "report"
    write_report(runs, out, data_root=data_root, samples=4)
    return out


def _strict_parse(text: str) -> list:
    from pylatexenc.latexwalker import LatexWalker

    nodes, _, _ = LatexWalker(text, tolerant_parsing=False).get_latex_nodes()
    return nodes


@pytest.mark.slow  # two runs, an evaluation and the figures: about 6 s
def test_report_tex_parses_and_inputs_only_the_tables_and_figures_written_beside_it(report):
    text = (report / "report.tex").read_text()
    _strict_parse(text)  # balanced braces and environments, or it raises
    used = re.findall(r"\\(?:input|includegraphics(?:\[[^]]*\])?)\{([^}]+)\}", text)
    assert {"tables/model_parts.tex", "tables/class_weights.tex", "tables/runs.tex", "figures/fig1_loss.pdf",
            "figures/fig2_fscore.pdf", "figures/per_class_scores.pdf", "figures/sample_predictions.pdf",
            "figures/runs_fscore.pdf"} <= set(used)
    assert all((report / path).is_file() for path in used)
    # What the course grades, in order: the model and its parameters, losses, processing, results, analysis.
    sections = re.findall(r"\\section\{([^}]+)\}", text)
    assert sections == ["Introduction", "Model", "Loss functions", "Processing steps", "Training", "Results",
                        "Experimental analysis", "Conclusion"]
    parts = pd.read_csv(report / "tables" / "model_parts.csv")
    total = int(parts.loc[parts["part"] == "total", "parameters"].iloc[0])
    assert f"\\textbf{{{total:,}}} parameters" in text and "fewer than 1,821,085" in text
    assert "\\textbf{0.8125}" in text  # the holdout F-score of best.pt's row
    assert "cross-entropy + Dice" in text and "left/right classes swapped" in text


@pytest.mark.slow
def test_what_only_the_student_can_write_is_marked_not_invented(report):
    text = (report / "report.tex").read_text()
    marked = re.findall(r"\\towrite\{([^}]*)\}", text)
    assert any("test F-score" in m for m in marked)  # the leaderboard's number, never made up
    assert {"YOUR NAME", "MATRIC NO"} <= set(marked)
    assert "YOUR_NAME_MATRIC_NO_project_1.pdf" in text.splitlines()[0] + text.splitlines()[1]
    # The one sentence on the test set leaves its number to the student.
    test_lines = [line for line in text.splitlines() if "test set" in line]
    assert test_lines and all("\\towrite{your test F-score" in line for line in test_lines)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex on this machine")
def test_report_tex_compiles_to_at_most_five_a4_pages(report, tmp_path):
    folder = tmp_path / "overleaf"
    shutil.copytree(report, folder)  # as uploaded: report.tex with figures/ and tables/ beside it
    for _ in range(2):  # the second pass resolves the references
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=folder,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-2000:]
    pages = int(re.search(r"Output written on report\.pdf \((\d+) pages?", done.stdout).group(1))
    assert 1 <= pages <= PAGE_LIMIT
    assert "undefined references" not in done.stdout


def test_the_pdf_is_named_as_the_course_asks_and_names_are_escaped():
    assert hand_in_name("Tan Ah Kow", "A1234567B") == "Tan_Ah_Kow_A1234567B_project_1.pdf"
    assert hand_in_name(" O'Neil / Lee ", " a1234567b\n") == "O_Neil_Lee_A1234567B_project_1.pdf"
    assert latex_text("50% of a_b & {c}") == r"50\% of a\_b \& \{c\}"
    odd = latex_text(r"odd \input{x} ~ ^ # $")
    assert odd == r"odd \textbackslash{}input\{x\} \textasciitilde{} \textasciicircum{} \# \$"
    _strict_parse(odd)


def test_the_name_and_matric_number_are_filled_in_when_given(tmp_path, data_root):
    run_dir = _challenge_run(tmp_path / "run", None, None, 0, 0.7)
    write_report(run_dir, tmp_path / "report", name="Tan_Ah Kow", matric="A1234567B")
    text = (tmp_path / "report" / "report.tex").read_text()
    assert "\\newcommand{\\studentname}{Tan\\_Ah Kow}" in text and "\\newcommand{\\matricno}{A1234567B}" in text
    assert "Tan_Ah_Kow_A1234567B_project_1.pdf" in text and "XeLaTeX" not in text
    _strict_parse(text)
    write_report(run_dir, tmp_path / "report", name="陈大文 Tan", matric="A1234567B")
    assert "compile with XeLaTeX" in "".join((tmp_path / "report" / "report.tex").read_text().splitlines()[:4])


def test_a_report_tex_the_student_edited_is_never_overwritten(tmp_path):
    run_dir = _challenge_run(tmp_path / "run", None, None, 0, 0.7)
    out = tmp_path / "report"
    write_report(run_dir, out)
    write_report(run_dir, out, name="Tan Ah Kow")  # not edited: the skeleton is simply rewritten
    assert "{Tan Ah Kow}" in (out / "report.tex").read_text() and not (out / "report.new.tex").exists()
    edited = (out / "report.tex").read_text().replace(r"\towrite{what worked", "It worked. % \\towrite{what worked")
    (out / "report.tex").write_text(edited)
    write_report(run_dir, out, name="Lee Mei")
    assert (out / "report.tex").read_text() == edited  # the student's writing stays
    assert "{Lee Mei}" in (out / "report.new.tex").read_text()  # the fresh skeleton beside it


def test_the_report_says_how_the_model_started_and_an_f_score(tmp_path):
    run_dir = _challenge_run(tmp_path / "run", None, None, 0, 0.7)
    write_report(run_dir, tmp_path / "scratch")
    text = (tmp_path / "scratch" / "report.tex").read_text()
    assert "trained from scratch" in text and "scores an F-score (per image) of" in text
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "rules": "seed", "pretrained": True}))
    write_report(run_dir, tmp_path / "pretrained")
    text = (tmp_path / "pretrained" / "report.tex").read_text()
    assert "from ImageNet weights" in text and "from scratch" not in text


def test_the_figures_command_names_the_tex_it_wrote(tmp_path, capsys):
    from faceparse_lib.cli import main

    run_dir = _challenge_run(tmp_path / "run", None, None, 0, 0.7)
    out = tmp_path / "report"
    assert main(["figures", str(run_dir), "--out", str(out), "--no-progress"]) == 0
    assert f"and {out / 'report.tex'} (the report" in capsys.readouterr().out
    (out / "report.tex").write_text((out / "report.tex").read_text() + "% my notes\n")
    assert main(["figures", str(run_dir), "--out", str(out), "--no-progress", "--matric", "u2212345a"]) == 0
    said = capsys.readouterr().out
    assert f"and {out / 'report.new.tex'} (the report" in said and "may hold your edits" in said
    assert "\\newcommand{\\matricno}{U2212345A}" in (out / "report.new.tex").read_text()


def test_the_per_class_caption_says_the_images_were_held_out_training_images(tmp_path, data_root):
    run_dir = _challenge_run(tmp_path / "run", data_root, "log2", 0, 0.7)
    stems = sorted(p.stem for p in (data_root / "train" / "masks").iterdir())[:2]
    (run_dir / "holdout.json").write_text(json.dumps({"size": 2, "holdout_seed": 0, "stems": stems}))
    write_report(run_dir, tmp_path / "report", data_root=data_root, samples=2)
    text = (tmp_path / "report" / "report.tex").read_text()
    assert "evaluated on 2 held-out training images of" in text and "validation images of" not in text
