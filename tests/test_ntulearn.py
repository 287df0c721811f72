"""The NTULearn hand-in: MATRIC.zip with the report, the screenshot, the test masks, the code, the checkpoint, Readme."""

import zipfile

import pytest

from faceparse_lib.course.ntulearn import pack_ntulearn


@pytest.fixture
def test_zip(tmp_path):
    """A test-phase zip as `hand_in` builds it: masks/ and solution/ (its content is not what is tested here)."""
    path = tmp_path / "test-phase.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for stem in ("a1", "b2"):
            archive.writestr(f"masks/{stem}.png", b"png-bytes-" + stem.encode())
        archive.writestr("solution/ckpt.pth", b"weights")
        archive.writestr("solution/run.py", b"print('run')\n")
        archive.writestr("solution/requirements.txt", b"torch>=2.3\n")
        archive.writestr("solution/standalone/images.py", b"# reader\n")
        archive.writestr("solution/Readme.txt", "Files\n...\n\nModel: unet_mnv3s, 1,712,323 parameters\n"
                                                 "Loss: cross-entropy + Dice\n\nHow to run\n  pip install\n")
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
    return pdf, shot, notebooks


def test_the_zip_is_named_by_the_matric_number_and_holds_what_the_course_asks_for(tmp_path, test_zip, student_files):
    pdf, shot, notebooks = student_files
    result = pack_ntulearn(tmp_path / "out", " u2212345a ", test_zip, pdf, shot, name="Tan Ah Kow", code=[notebooks])
    assert result.path == tmp_path / "out" / "U2212345A.zip" and not result.missing and not result.warnings
    with zipfile.ZipFile(result.path) as archive:
        names = set(archive.namelist())
        assert archive.read("masks/a1.png") == b"png-bytes-a1"  # the test masks, byte for byte, in a subfolder
        assert archive.read("ckpt.pth") == b"weights"
        assert archive.read("Tan_Ah_Kow_U2212345A_project_1.pdf").startswith(b"%PDF-")
        readme = archive.read("Readme.txt").decode()
    assert {"masks/b2.png", "leaderboard.png", "code/solution/run.py", "code/solution/requirements.txt",
            "code/solution/standalone/images.py", "code/my_notebooks/03_training.ipynb",
            "code/faceparse_lib/__init__.py", "code/faceparse_lib/standalone/inference.py"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "solution/ckpt.pth" not in " ".join(names)  # the checkpoint once, at the top
    # Readme.txt: the files, the third-party libraries and how to run, as the course asks.
    assert "Tan_Ah_Kow_U2212345A_project_1.pdf" in readme and "2 predicted test masks" in readme
    assert "unet_mnv3s, 1,712,323 parameters" in readme and "pip install -r code/solution/requirements.txt" in readme
    assert "code/my_notebooks/03_training.ipynb" in readme


def test_what_is_missing_is_listed_and_nothing_is_made_up(tmp_path, test_zip):
    result = pack_ntulearn(tmp_path, "U2212345A", test_zip, tmp_path / "none.pdf", None, name="Tan")
    missing = "\n".join(result.missing)
    assert "report PDF" in missing and "none.pdf" in missing and "leaderboard screenshot" in missing
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
