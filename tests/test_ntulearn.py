"""The NTULearn hand-in: MATRIC.zip with the report, the screenshot, the test masks, the code, the checkpoint, Readme."""

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from faceparse_lib.course.ntulearn import pack_ntulearn


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def test_zip(tmp_path):
    """A test-phase zip as `hand_in` builds it, small: masks/ and solution/, with the solution's real Readme.txt."""
    from faceparse_lib.course.submission import readme_text as solution_readme

    weights = io.BytesIO()
    torch.save({"state_dict": {"head.weight": torch.zeros(19, 4)}}, weights)
    model = torch.nn.Conv2d(3, 19, 1)
    model.train_config = {"model": "unet_mnv3s", "loss": "ce+dice", "iterations": 20, "data_root": "data"}
    path = tmp_path / "test-phase.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for stem, value in (("a1", 1), ("b2", 2)):
            archive.writestr(f"masks/{stem}.png", _png(value))
        archive.writestr("solution/ckpt.pth", weights.getvalue())
        archive.writestr("solution/run.py", b"print('run')\n")
        archive.writestr("solution/requirements.txt", b"torch>=2.3\n")
        archive.writestr("solution/standalone/images.py", b"# reader\n")
        archive.writestr("solution/Readme.txt", solution_readme(model, 1_712_323, "flip", 2))
    return path


@pytest.fixture
def student_files(tmp_path):
    pdf = tmp_path / "draft.pdf"
    pdf.write_bytes(b"%PDF-1.5\n...")
    shot = tmp_path / "Screenshot 2026-04-20.PNG"
    shot.write_bytes(b"\x89PNG\r\n\x1a\n...")
    notebooks = tmp_path / "my_notebooks"
    (notebooks / "__pycache__").mkdir(parents=True)
    (notebooks / "03_training.ipynb").write_text("{}")
    (notebooks / "__pycache__" / "x.pyc").write_bytes(b"")
    (notebooks / ".git").mkdir()
    (notebooks / ".git" / "HEAD").write_text("ref: refs/heads/main")
    (notebooks / ".DS_Store").write_bytes(b"")
    return pdf, shot, notebooks


def test_the_zip_is_named_by_the_matric_number_and_holds_what_the_course_asks_for(tmp_path, test_zip, student_files):
    pdf, shot, notebooks = student_files
    result = pack_ntulearn(tmp_path / "out", " u2212345a ", test_zip, pdf, shot, name="Tan Ah Kow", code=[notebooks])
    assert result.path == tmp_path / "out" / "U2212345A.zip" and not result.missing and not result.warnings
    with zipfile.ZipFile(result.path) as archive:
        names = set(archive.namelist())
        with zipfile.ZipFile(test_zip) as handed:  # the test masks and weights, byte for byte
            assert archive.read("masks/a1.png") == handed.read("masks/a1.png")
            assert archive.read("ckpt.pth") == handed.read("solution/ckpt.pth")
        assert archive.read("Tan_Ah_Kow_U2212345A_project_1.pdf").startswith(b"%PDF-")
        readme = archive.read("Readme.txt").decode()
    assert {"masks/b2.png", "leaderboard.png", "code/solution/run.py", "code/solution/requirements.txt",
            "code/solution/standalone/images.py", "code/own/my_notebooks/03_training.ipynb",
            "code/faceparse_lib/__init__.py", "code/faceparse_lib/standalone/inference.py"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") or "/." in n for n in names)  # no caches, .git, dotfiles
    assert "solution/ckpt.pth" not in " ".join(names)  # the checkpoint once, at the top
    # Readme.txt: the files, the third-party libraries and how to run, as the course asks.
    assert "Tan_Ah_Kow_U2212345A_project_1.pdf" in readme and "2 predicted test masks" in readme
    assert "unet_mnv3s, 1,712,323 parameters" in readme and "pip install -r code/solution/requirements.txt" in readme
    assert "Third-party libraries" in readme and "Test-time augmentation: flip" in readme
    assert "solution/ckpt.pth" not in readme and "How to run" not in readme  # no paths of the other zip's layout
    assert "code/own/my_notebooks/03_training.ipynb" in readme


def test_what_is_missing_is_listed_and_nothing_is_made_up(tmp_path, test_zip):
    result = pack_ntulearn(tmp_path, "U2212345A", test_zip, tmp_path / "none.pdf", None, name="Tan")
    missing = "\n".join(result.missing)
    assert "report PDF" in missing and "none.pdf" in missing and "leaderboard screenshot" in missing
    assert "your own code (CODE)" in missing  # the kit's notebooks are never passed off as the student's
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
    assert not any(n.endswith(".pdf") or n.startswith("leaderboard") for n in names)
    assert "still missing" in result.summary() and "upload it" not in result.summary()


def test_without_a_matric_number_no_zip_is_written_and_a_missing_test_zip_is_named(tmp_path):
    result = pack_ntulearn(tmp_path, "", tmp_path / "test-phase.zip")
    assert result.path is None and not list(tmp_path.glob("*.zip"))
    missing = "\n".join(result.missing)
    assert "matric number" in missing and "test-phase zip" in missing and "notebook 4" in missing


def test_a_report_that_is_not_a_pdf_and_an_odd_matric_number_are_named(tmp_path, test_zip, student_files):
    _, shot, _ = student_files
    tex = tmp_path / "report.pdf"
    tex.write_text("\\documentclass{article}")
    result = pack_ntulearn(tmp_path, "12345", test_zip, tex, shot, name="Tan")
    assert any("is not a PDF" in m for m in result.missing)
    assert any("does not look like an NTU matric number" in w for w in result.warnings)


def test_a_test_phase_zip_the_grader_would_refuse_is_named_not_packed(tmp_path, student_files):
    pdf, shot, notebooks = student_files
    broken = tmp_path / "test-phase.zip"
    broken.write_bytes(b"PK not really")
    result = pack_ntulearn(tmp_path / "out", "U2212345A", broken, pdf, shot, name="Tan", code=[notebooks])
    assert any("not a zip file" in m for m in result.missing)
    with zipfile.ZipFile(tmp_path / "one-mask.zip", "w") as archive:
        archive.writestr("masks/a1.PNG", _png(1))
    result = pack_ntulearn(tmp_path / "out", "U2212345A", tmp_path / "one-mask.zip", pdf, shot, name="Tan", code=[notebooks])
    missing = "\n".join(result.missing)
    assert "solution/ckpt.pth missing" in missing and "lower case" in missing
    with zipfile.ZipFile(result.path) as archive:
        assert not any(n.startswith("masks/") for n in archive.namelist())


def test_code_given_as_the_current_folder_keeps_its_name_and_a_missing_path_is_named(tmp_path, test_zip, monkeypatch):
    work = tmp_path / "my-project"
    (work / "runs").mkdir(parents=True)
    (work / "train.py").write_text("print('hi')\n")
    (work / "runs" / "best.pt").write_bytes(b"weights")  # what a folder of work also holds: never packed as code
    (work / "U2212345A.zip").write_bytes(b"PK")
    monkeypatch.chdir(work)
    result = pack_ntulearn(tmp_path / "out", "U2212345A", test_zip, code=["."])
    assert "code/own/my-project/train.py" in result.packed
    assert not any("best.pt" in n or n.endswith(".zip") for n in result.packed)
    assert any("2 file(s) under CODE are not code" in w for w in result.warnings)
    other = tmp_path / "other"
    other.mkdir()
    (other / "train.py").write_text("print('other')\n")
    with pytest.raises(ValueError, match="would both be code/own/train.py"):
        pack_ntulearn(tmp_path / "out", "U2212345A", test_zip, code=[work / "train.py", other / "train.py"])
    with pytest.raises(FileNotFoundError, match="no-such.ipynb"):
        pack_ntulearn(tmp_path / "out", "U2212345A", test_zip, code=["no-such.ipynb"])


def test_the_notebooks_call_finds_the_pdf_pdflatex_wrote_beside_report_tex(tmp_path, test_zip, student_files):
    import shutil

    from faceparse_lib.course.shared import Workspace, hand_in_zip, ntulearn_hand_in

    _, shot, notebooks = student_files
    ws = Workspace(data_root=tmp_path / "data", synthetic=False, preset="challenge", run_dir=tmp_path / "run",
                   report_dir=tmp_path / "report")
    ws.report_dir.mkdir()
    ws.run_dir.mkdir()
    (ws.run_dir / "best.pt").write_bytes(b"")  # a trained run: the hand-in zips sit beside it
    (ws.report_dir / "report.pdf").write_bytes(b"%PDF-1.5\n")  # `pdflatex report.tex`, not yet renamed
    zip_path = hand_in_zip(ws, "test")
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(test_zip, zip_path)
    summary = ntulearn_hand_in(ws, "Tan Ah Kow", "U2212345A", screenshot=shot, code=[notebooks])
    assert "complete: upload it" in summary, summary
    with zipfile.ZipFile(ws.report_dir / "U2212345A.zip") as archive:
        assert archive.read("Tan_Ah_Kow_U2212345A_project_1.pdf") == b"%PDF-1.5\n"  # renamed as the course asks
