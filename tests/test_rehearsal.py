"""The grader's rehearsal: run.py run per image as the course runs it, on solutions with the template's traps."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from faceparse_lib.course.rehearsal import rehearse

# A stand-in model any solution can run without torch: skin (1) where the red channel is bright, else background.
GOOD_RUN_PY = '''
import argparse
import numpy as np
from PIL import Image

parser = argparse.ArgumentParser()
parser.add_argument("--input"); parser.add_argument("--output"); parser.add_argument("--weights")
args = parser.parse_args()
rgb = np.array(Image.open(args.input).convert("RGB"))
{read}
mask = (rgb[..., 0] > 127).astype(np.uint8)
Image.fromarray(mask).save({output})
{after}
'''


def run_py(read: str = "", output: str = "args.output", after: str = "") -> bytes:
    return GOOD_RUN_PY.format(read=read, output=output, after=after).encode()


@pytest.fixture
def images(tmp_path):
    """Two test images whose red and blue channels differ, so a BGR read gives another mask."""
    folder = tmp_path / "test-images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for stem in ("a", "b"):
        picture = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
        Image.fromarray(picture).save(folder / f"{stem}.png")
    return folder


def hand_in(tmp_path, images, run_py_source: bytes, requirements: bytes | None = b"numpy\nPillow\n",
            extra: dict[str, bytes] | None = None) -> str:
    """A zip with the right masks/ for `images` and a solution/ around `run_py_source`."""
    path = tmp_path / "hand-in.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for image in sorted(images.iterdir()):
            rgb = np.array(Image.open(image).convert("RGB"))
            buffer = io.BytesIO()
            Image.fromarray((rgb[..., 0] > 127).astype(np.uint8)).save(buffer, format="PNG")
            archive.writestr(f"masks/{image.stem}.png", buffer.getvalue())
        archive.writestr("solution/run.py", run_py_source)
        if requirements is not None:
            archive.writestr("solution/requirements.txt", requirements)
        archive.writestr("solution/ckpt.pth", b"")
        for name, data in (extra or {}).items():
            archive.writestr(f"solution/{name}", data)
    return str(path)


@pytest.mark.slow
def test_a_solution_that_reproduces_its_masks_passes(tmp_path, images):
    result = rehearse(hand_in(tmp_path, images, run_py()), images, reuse_environment=True)
    assert result.problems == [] and len(result.runs) == 2
    assert "2 gave the zip's mask pixel for pixel" in result.summary()


@pytest.mark.slow
@pytest.mark.parametrize("source,fragment", [
    (run_py(read="rgb = rgb[..., ::-1]  # cv2.imread's BGR, used as RGB"), "of the pixels differ from the zip's mask"),
    (run_py(after="print(result)  # the template's last line"), "exited with code 1: "),
    (run_py(output="args.output + '.png'"), "run.py wrote no output file"),
    (run_py(read="import torch; torch.zeros(1, device='cuda')  # a GPU-only solution"), "exited with code 1"),
])
def test_each_trap_of_the_template_is_named_by_image(tmp_path, images, source, fragment):
    result = rehearse(hand_in(tmp_path, images, source), images, count=1, reuse_environment=True)
    assert len(result.runs) == 1
    assert any(problem.startswith("a.png: ") and fragment in problem for problem in result.problems), result.problems


@pytest.mark.slow
def test_requirements_that_cannot_install_are_a_problem_with_pips_words(tmp_path, images, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # the rehearsal keeps pip's settings: no index, no network here
    zip_path = hand_in(tmp_path, images, run_py(), requirements=b"no-such-package-for-the-kit-tests==1.0\n")
    result = rehearse(zip_path, images)
    assert result.runs == []
    assert "pip install -r solution/requirements.txt failed" in result.setup_problem
    assert "no-such-package-for-the-kit-tests" in result.setup_problem


@pytest.mark.slow
def test_run_py_runs_as_a_script_its_folder_first_on_the_path(tmp_path, images):
    source = run_py(read="import os, sys; from helper import LIMIT; assert os.path.isabs(__file__), __file__\n"
                         "assert open(os.path.join(os.path.dirname(__file__), 'ckpt.pth'), 'rb').read() == b''")
    zip_path = hand_in(tmp_path, images, source, extra={"helper.py": b"LIMIT = 127\n"})
    assert rehearse(zip_path, images, count=1, reuse_environment=True).problems == []


def test_a_missing_requirements_txt_or_a_file_that_is_no_zip_is_a_problem_not_a_crash(tmp_path, images):
    result = rehearse(hand_in(tmp_path, images, run_py(), requirements=None), images)
    assert "no solution/requirements.txt" in result.setup_problem and result.runs == []
    (tmp_path / "notes.zip").write_text("not a zip")
    assert "not a zip file" in rehearse(tmp_path / "notes.zip", images).setup_problem


def test_a_zip_without_run_py_is_said_so(tmp_path, images):
    path = tmp_path / "masks-only.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("masks/a.png", b"")
    assert rehearse(path, images, reuse_environment=True).problems == ["no solution/run.py in the zip: nothing to "
                                                                        "rehearse"]


def test_the_command_needs_the_test_images_to_run_on(tmp_path, images, capsys):
    from faceparse_lib.cli import main

    assert main(["submission", "check", hand_in(tmp_path, images, run_py()), "--run"]) == 1
    assert "--run needs --images" in capsys.readouterr().err
