"""The course notebooks: paired with their .py, committed clean, badges and setup cells from one address, run all."""

from __future__ import annotations

import ast
import shutil
import sys
import types
from pathlib import Path

import jupytext
import nbformat
import pytest

from faceparse_lib.course import notebooks
from faceparse_lib.course.notebooks import (
    PLACEHOLDER,
    REPOSITORY,
    badge_source,
    colab_url,
    notebook_problems,
    notebook_sources,
    run_notebooks,
    setup_source,
    sync_notebook,
)

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = ["01_data_exploration", "02_class_weights", "03_training", "04_evaluation", "05_report_figures"]


def test_the_five_notebooks_are_there():
    assert [p.stem for p in notebook_sources(NOTEBOOKS)] == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_in_sync_with_its_py_clean_and_has_the_generated_header(name):
    assert notebook_problems(NOTEBOOKS / f"{name}.py") == []


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_defines_no_functions_or_classes_outside_its_exercises(name):
    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    for cell in notebook.cells[1:]:
        if cell.cell_type != "code" or "exercise" in cell.metadata.get("tags", []):
            continue
        code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        defined = [n for n in ast.walk(ast.parse(code)) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defined, f"{name}: logic belongs in faceparse_lib, not in a notebook cell"


def _copy(tmp_path: Path, name: str = "01_data_exploration") -> Path:
    shutil.copy(NOTEBOOKS / f"{name}.py", tmp_path)
    shutil.copy(NOTEBOOKS / f"{name}.ipynb", tmp_path)
    return tmp_path / f"{name}.py"


def test_sync_rewrites_badge_and_setup_cell_from_another_address(tmp_path):
    source = _copy(tmp_path)
    other = "https://github.com/someone/fork"
    sync_notebook(source, repository=other)
    cells = nbformat.read(source.with_suffix(".ipynb"), as_version=4).cells
    assert cells[0].source == badge_source("01_data_exploration.ipynb", other)
    assert "github/someone/fork/blob/main/notebooks/01_data_exploration.ipynb" in cells[0].source
    assert f'REPOSITORY = "{other}"' in cells[1].source
    assert REPOSITORY not in source.read_text()
    assert notebook_problems(source, repository=other) == []
    assert any("badge and setup cell differ" in p for p in notebook_problems(source))


def test_sync_keeps_the_other_cells(tmp_path):
    source = _copy(tmp_path)
    before = jupytext.read(source).cells[2:]
    sync_notebook(source, repository="https://github.com/someone/fork")
    assert [c.source for c in jupytext.read(source).cells[2:]] == [c.source for c in before]


def test_check_reports_outputs_an_edited_py_and_the_placeholder(tmp_path):
    source = _copy(tmp_path)
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    notebook.cells[1].execution_count = 3
    nbformat.write(notebook, source.with_suffix(".ipynb"))
    source.write_text(source.read_text() + f"\n# %%\nprint('{PLACEHOLDER}')\n")
    problems = "\n".join(notebook_problems(source))
    assert "outputs or an execution count" in problems
    assert "differs from" in problems
    assert PLACEHOLDER in problems


def test_colab_url_needs_a_github_address():
    assert colab_url("03_training.ipynb", "https://github.com/a/b") == \
        "https://colab.research.google.com/github/a/b/blob/main/notebooks/03_training.ipynb"
    with pytest.raises(ValueError, match="GitHub address"):
        colab_url("03_training.ipynb", "https://gitlab.com/a/b")


def test_setup_cell_does_nothing_off_colab(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    for name in [n for n in __import__("os").environ if n.startswith("COLAB_")]:
        monkeypatch.delenv(name)
    calls = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: calls.append(a))
    exec(setup_source(), {})
    assert calls == []
    assert capsys.readouterr().out.strip().startswith("Not on Colab")


def test_setup_cell_on_colab_clones_and_installs_with_colab_packages_pinned(monkeypatch, capsys):
    mounted = []
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mounted.append)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr("os.path.isfile", lambda path: False)  # no kit on Drive, no clone yet
    monkeypatch.setattr("os.path.isdir", lambda path: False)
    calls = []
    monkeypatch.setattr("subprocess.run", lambda command, **kwargs: calls.append(command) or types.SimpleNamespace(returncode=0))
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(setup_source("https://github.com/a/b"), {})
    assert mounted == ["/content/drive"]
    assert calls[0] == ["git", "clone", "-q", "--depth", "1", "https://github.com/a/b", notebooks.CLONE_DIR]
    assert "'^(torch|torchvision|ipywidgets|numpy)=='" in calls[1] and "pip freeze" in calls[1]
    assert calls[2][:4] == ["pip", "install", "-q", "-c"] and calls[2][-2:] == ["-e", notebooks.CLONE_DIR]
    assert sys.path[0] == notebooks.CLONE_DIR


def test_setup_cell_without_a_kit_on_drive_or_a_clone_says_what_to_do(monkeypatch):
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=lambda path: None)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr("os.path.isfile", lambda path: False)
    monkeypatch.setattr("os.path.isdir", lambda path: False)
    calls = []
    monkeypatch.setattr("subprocess.run", lambda command, **kwargs: calls.append(command) or types.SimpleNamespace(returncode=128))
    with pytest.raises(RuntimeError, match="Copy the kit's folder .* to MyDrive/faceparse-kit"):
        exec(setup_source("https://github.com/unpublished/kit"), {})
    assert len(calls) == 1 and calls[0][0] == "git"  # the clone was tried; pip never ran


def _drive_with_copies(monkeypatch, copies: dict[str, bool]) -> list[str]:
    """A Colab whose Drive holds `copies` (folder: whether faceparse_lib/ is beside its pyproject.toml); the globs."""
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=lambda path: None)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr("os.path.isfile", lambda path: path in {f"{c}/faceparse_lib/__init__.py" for c, kit in copies.items() if kit})
    monkeypatch.setattr("os.path.isdir", lambda path: False)
    globbed: list[str] = []

    def glob(pattern):
        globbed.append(pattern)
        depth = pattern.removeprefix("/content/drive/MyDrive/").count("*")
        return [f"{c}/pyproject.toml" for c in copies if c.count("/") - 3 == depth]

    monkeypatch.setattr("glob.glob", glob)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return globbed


def test_setup_cell_installs_the_first_copy_of_the_kit_on_drive_and_stops_looking(monkeypatch):
    copy = "/content/drive/MyDrive/AI6126/kit-v2"
    globbed = _drive_with_copies(monkeypatch, {copy: True, "/content/drive/MyDrive/a/b/old-kit": True})
    calls = []
    monkeypatch.setattr("subprocess.run", lambda command, **kwargs: calls.append(command) or types.SimpleNamespace(returncode=0))
    exec(setup_source(), {})
    assert not any(c[0] == "git" for c in calls if isinstance(c, list))
    assert calls[-1][-1] == copy and sys.path[0] == copy
    assert max(pattern.count("*") for pattern in globbed) == 2  # found two down: three down was never searched


def test_setup_cell_skips_a_folder_with_pyproject_but_no_kit_and_clones_without_a_password_prompt(monkeypatch):
    _drive_with_copies(monkeypatch, {"/content/drive/MyDrive/other-project": False})
    calls = []
    monkeypatch.setattr("subprocess.run", lambda command, **kwargs: calls.append((command, kwargs)) or types.SimpleNamespace(returncode=0))
    exec(setup_source("https://github.com/a/b"), {})
    (clone, kwargs), *_, (install, _) = calls
    assert clone[:2] == ["git", "clone"] and kwargs["env"]["GIT_TERMINAL_PROMPT"] == "0"
    assert install[-1] == notebooks.CLONE_DIR


def test_setup_cell_on_colab_prefers_the_kit_on_drive(monkeypatch):
    globbed = _drive_with_copies(monkeypatch, {"/content/drive/MyDrive/AI6126/kit-v2": True})
    monkeypatch.setattr("os.path.isfile", lambda path: path == f"{notebooks.DRIVE_KIT}/pyproject.toml")
    calls = []
    monkeypatch.setattr("subprocess.run", lambda command, **kwargs: calls.append(command))
    exec(setup_source(), {})
    assert not any(c[0] == "git" for c in calls if isinstance(c, list))
    assert calls[-1][-1] == notebooks.DRIVE_KIT and globbed == []  # the usual place: Drive is not searched


@pytest.mark.slow
def test_run_notebooks_writes_executed_copies_and_stops_at_a_failure(tmp_path):
    for name, code in (("01_ok", "import os\nprint(os.environ['FACEPARSE_TEST_VALUE'])"), ("02_bad", "1 / 0")):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        notebook.metadata["kernelspec"] = dict(notebooks.KERNELSPEC)
        nbformat.write(notebook, tmp_path / f"{name}.ipynb")
    lines = []
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        run_notebooks([tmp_path / "01_ok.py", tmp_path / "02_bad.py"], tmp_path / "out",
                      env={"FACEPARSE_TEST_VALUE": "42"}, timeout=120, report=lines.append)
    executed = nbformat.read(tmp_path / "out" / "01_ok.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "42"
    assert (tmp_path / "out" / "02_bad.ipynb").is_file()
    assert lines[1].startswith("01_ok: done") and lines[-1].startswith("02_bad: FAILED")
    assert "FACEPARSE_TEST_VALUE" not in __import__("os").environ


def test_notebooks_command_checks_the_committed_notebooks_and_refuses_an_unknown_name(capsys):
    from faceparse_lib.cli import main

    assert main(["notebooks", "check"]) == 0
    assert "5 notebooks, 0 problem(s)" in capsys.readouterr().out
    assert main(["notebooks", "check", "09"]) == 1
    assert "error: no notebook 09" in capsys.readouterr().err


def test_every_notebook_has_the_one_settings_cell_and_sync_restores_an_edited_one(tmp_path):
    from faceparse_lib.course.notebooks import SETTINGS_SOURCE

    for name in EXPECTED:
        cells = [c.source for c in jupytext.read(NOTEBOOKS / f"{name}.py").cells if c.cell_type == "code"]
        assert cells.count(SETTINGS_SOURCE) == 1, name
    source = _copy(tmp_path, "03_training")
    source.write_text(source.read_text().replace('RULES = "challenge"', 'RULES = "seed"     '))
    sync_notebook(source)
    assert notebook_problems(source) == [] and SETTINGS_SOURCE in source.read_text()
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    edited = next(c for c in notebook.cells if c.source.startswith("DATA = "))
    edited.source = edited.source.replace("DEMO = False", "DEMO = True ")
    nbformat.write(notebook, source.with_suffix(".ipynb"))
    assert any("settings cell" in p for p in notebook_problems(source))


def _exercise_cells(name: str) -> list:
    return [c for c in jupytext.read(NOTEBOOKS / f"{name}.py").cells if "exercise" in c.metadata.get("tags", [])]


def test_four_exercises_each_write_a_function_and_check_it_against_the_kit():
    checked = []
    for name in EXPECTED:
        for cell in _exercise_cells(name):
            tree = ast.parse(cell.source)
            defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
            calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "").startswith("check_")]
            assert len(defined) == 1 and len(calls) == 1, f"{name}: an exercise defines one function and checks it"
            assert [a.id for a in calls[0].args] == defined  # the check is given the student's own function
            checked.append(calls[0].func.attr)
    assert sorted(checked) == ["check_class_weights", "check_hflip", "check_image_fscore", "check_read_mask"]
    # An ipynb keeps the tag, so the notebook test and a reader see which cells are exercises.
    assert all("exercise" in c.metadata.get("tags", []) for c in nbformat.read(NOTEBOOKS / "03_training.ipynb", 4).cells
               if "def flip" in c.source)


@pytest.mark.parametrize("name", EXPECTED)
def test_every_notebook_opens_with_what_it_teaches_and_closes_with_questions(name):
    cells = jupytext.read(NOTEBOOKS / f"{name}.py").cells
    opening = next(c.source for c in cells if c.cell_type == "markdown" and c.source.startswith("# "))
    assert "**You will learn**" in opening
    assert cells[-1].cell_type == "markdown" and cells[-1].source.startswith("## Questions")
    assert cells[-1].source.count("\n1. ") == 1 and "2. " in cells[-1].source
