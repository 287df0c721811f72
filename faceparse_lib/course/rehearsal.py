"""Rehearse the grader on a hand-in zip: install solution/requirements.txt, run run.py once per test image as the
course's page gives it, and compare each output with the zip's masks/ pixel for pixel.

The course deducts marks for "inconsistencies between predictions and code"; this finds them before the upload,
for any zip (the kit's, the course template filled in by hand, another toolkit's). run.py runs from inside
solution/, one process per image, in an environment that holds nothing of the student's: no faceparse_lib, no
PYTHONPATH, a scratch HOME, and CUDA hidden unless asked for (a solution that only runs on a GPU is caught).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# Runs run.py as `python3 run.py ...` would (absolute __file__, its folder first on sys.path) in an interpreter that
# also holds the kit, faceparse_lib hidden unless the solution ships its own copy.
AS_SCRIPT = ("import os, runpy, sys; path = os.path.abspath('run.py'); sys.path[0] = os.path.dirname(path); {hide}"
             "sys.argv = [path] + sys.argv[1:]; runpy.run_path(path, run_name='__main__')")
HIDE_KIT = "sys.modules['faceparse_lib'] = None; "
LAST_LINES = 6
SETUP_TIMEOUT = 1800.0  # seconds for creating the environment and installing the requirements


@dataclass
class ImageRun:
    """run.py on one test image: seconds with start-up, and what was wrong (None: the same mask as masks/)."""

    image: str
    seconds: float
    problem: str | None = None


@dataclass
class Rehearsal:
    """What the rehearsal did: the interpreter, the install, and each image's run."""

    zip_path: Path
    python: str
    environment: str  # "fresh" (requirements installed) or "reused" (this interpreter's packages)
    install_seconds: float = 0.0
    installed: list[str] = field(default_factory=list)
    setup_problem: str | None = None
    runs: list[ImageRun] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Every problem, one line each (a failed set-up first)."""
        found = [self.setup_problem] if self.setup_problem else []
        return found + [f"{run.image}: {run.problem}" for run in self.runs if run.problem]

    def summary(self) -> str:
        """What ran, how long it took and what differed, as the command prints it."""
        how = (f"a fresh environment on {self.python}, requirements.txt installed in {self.install_seconds:.0f} s"
               + (f" ({len(self.installed)} packages)" if self.installed else "")
               if self.environment == "fresh" else
               f"this interpreter's packages ({self.python}; faceparse_lib hidden) - faster, but it does not prove "
               "that requirements.txt installs")
        lines = [f"{self.zip_path}: rehearsed in {how}"]
        if self.runs:
            times = sorted(run.seconds for run in self.runs)
            same = sum(run.problem is None for run in self.runs)
            lines.append(f"run.py on {len(self.runs)} image(s): {same} gave the zip's mask pixel for pixel; "
                         f"{times[len(times) // 2]:.1f} s an image with start-up (median)")
        lines += [f"problem: {problem}" for problem in self.problems]
        return "\n".join(lines)


def _last_lines(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-LAST_LINES:]) or "(no output)"


def grader_environment(home: Path, hide_cuda: bool) -> dict[str, str]:
    """Nothing of the student's: PATH, locale and the OS's own variables, a scratch HOME, no PYTHONPATH; pip's
    settings kept (the machine's index and proxy); CUDA hidden if asked (Apple's MPS cannot be hidden this way)."""
    kept = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "SYSTEMDRIVE", "COMSPEC", "PATHEXT", "TEMP", "TMP",
            "USERPROFILE", "APPDATA", "LOCALAPPDATA")
    env = {key: os.environ[key] for key in kept if key in os.environ}
    # pip's own settings stay (the machine's index, proxy, cache), as the grader's machine has its own.
    env.update({key: value for key, value in os.environ.items() if key.startswith("PIP_")})
    env.update(HOME=str(home), PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
    if hide_cuda:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def run_isolated(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """(exit code, or None on timeout; stderr + stdout) of a command in its own process group, killed whole on time-out
    (a DataLoader's workers included)."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               errors="replace", start_new_session=os.name != "nt")
    try:
        out, err = process.communicate(timeout=timeout)
        return process.returncode, err + out
    except subprocess.TimeoutExpired:
        if os.name != "nt":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        out, err = process.communicate()
        return None, err + out


def fresh_environment(python: str, folder: Path, solution: Path, env: dict[str, str],
                      result: Rehearsal) -> str | None:
    """A new virtual environment with requirements.txt installed from inside solution/ (as the grader does, so a
    relative path in it means what it will mean there); its interpreter, or None (result says why)."""
    start = time.perf_counter()
    if not (solution / "requirements.txt").is_file():
        result.setup_problem = "no solution/requirements.txt: the grader installs it before running run.py"
        return None
    code, output = run_isolated([python, "-m", "venv", str(folder)], solution, env, SETUP_TIMEOUT)
    if code != 0:
        result.setup_problem = f"could not create a virtual environment with {python}: {_last_lines(output)}"
        return None
    venv_python = str(folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    code, output = run_isolated([venv_python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r",
                                 "requirements.txt"], solution, env, SETUP_TIMEOUT)
    if code != 0:
        why = f"took over {SETUP_TIMEOUT:.0f} s" if code is None else "failed"
        result.setup_problem = f"pip install -r solution/requirements.txt {why} on {python}: {_last_lines(output)}"
        return None
    code, output = run_isolated([venv_python, "-m", "pip", "freeze", "--disable-pip-version-check"], solution, env,
                                SETUP_TIMEOUT)
    result.installed = output.split() if code == 0 else []
    result.install_seconds = time.perf_counter() - start
    return venv_python


def compare_output(output: Path, expected_bytes: bytes | None, image_name: str) -> str | None:
    """What differs between run.py's output and the zip's mask, both read as the grader reads them."""
    import numpy as np

    from faceparse_lib.data.layout import DatasetError
    from faceparse_lib.evaluation.folders import read_like_the_grader

    if expected_bytes is None:
        return "no mask for it in the zip's masks/"
    if not output.is_file():
        return "run.py wrote no output file"
    try:
        produced = read_like_the_grader(output, f"run.py's output for {image_name}")
        expected = read_like_the_grader(expected_bytes, f"masks/ of {image_name}")
    except DatasetError as err:
        return str(err)
    if produced.shape != expected.shape:
        return (f"run.py wrote {produced.shape[1]}×{produced.shape[0]}, the zip's mask is "
                f"{expected.shape[1]}×{expected.shape[0]}")
    differ = float(np.mean(produced != expected))
    return f"{differ:.2%} of the pixels differ from the zip's mask" if differ else None


def rehearse(zip_path: str | Path, images: str | Path, count: int | None = None, python: str | None = None,
             reuse_environment: bool = False, timeout: float = 300.0, hide_cuda: bool = True,
             say=lambda line: None) -> Rehearsal:
    """Run the zip's solution/run.py on `count` test images (all when None) as the grader does; see the module."""
    from faceparse_lib.evaluation.masks import list_images

    zip_path, images = Path(zip_path), Path(images)
    paths = list_images(images)[0]
    paths = paths[:count] if count else paths
    python = python or sys.executable
    result = Rehearsal(zip_path, python, "reused" if reuse_environment else "fresh")
    with tempfile.TemporaryDirectory(prefix="rehearsal-") as scratch_name:
        scratch = Path(scratch_name)
        if not zipfile.is_zipfile(zip_path):
            result.setup_problem = f"{zip_path}: not a zip file; nothing to rehearse"
            return result
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
            if not any(n.startswith("solution/run.py") for n in names):
                result.setup_problem = "no solution/run.py in the zip: nothing to rehearse"
                return result
            archive.extractall(scratch / "unpacked", [n for n in names if n.startswith("solution/")])
            masks = {Path(n).stem: archive.read(n) for n in names
                     if n.startswith("masks/") and n.count("/") == 1 and n.endswith(".png")}
        solution = scratch / "unpacked" / "solution"
        (scratch / "home").mkdir()
        env = grader_environment(scratch / "home", hide_cuda)
        if reuse_environment:
            own_copy = (solution / "faceparse_lib").is_dir()  # a solution may ship the kit: the grader imports it
            command = [python, "-c", AS_SCRIPT.format(hide="" if own_copy else HIDE_KIT)]
        else:
            say(f"installing solution/requirements.txt into a fresh environment on {python} ...")
            venv_python = fresh_environment(python, scratch / "venv", solution, env, result)
            if venv_python is None:
                return result
            command = [venv_python, "run.py"]
        outputs = scratch / "outputs"
        outputs.mkdir()
        for path in paths:
            output = outputs / f"{path.stem}.png"
            start = time.perf_counter()
            code, said = run_isolated([*command, "--input", str(path.resolve()), "--output", str(output),
                                       "--weights", "ckpt.pth"], solution, env, timeout)
            seconds = time.perf_counter() - start
            if code is None:
                problem = f"run.py took over {timeout:.0f} s (killed): {_last_lines(said)}"
            else:
                problem = f"run.py exited with code {code}: {_last_lines(said)}" if code else None
            problem = problem or compare_output(output, masks.get(path.stem), path.name)
            result.runs.append(ImageRun(path.name, seconds, problem))
            say(f"  {path.name}: {problem or 'the same mask'} ({seconds:.1f} s)")
    return result
