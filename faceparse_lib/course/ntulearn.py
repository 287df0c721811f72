"""The 2026 hand-in to NTULearn: one zip named with the matric number (`A1234567B.zip`) holding the report PDF, a
leaderboard screenshot, the test masks in a subfolder, the code, the checkpoint and Readme.txt.

It is packed from the test-phase zip (`hand_in`, notebook 4: masks/ and solution/), the report the student compiled
from report.tex, the screenshot they saved and the code; whatever is not there yet is listed, never made up.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from faceparse_lib.classes import NUM_CLASSES
from faceparse_lib.course.submission import CHECKPOINT, MODEL_HEADING, RUN_HEADING, check_submission
from faceparse_lib.evaluation.masks import MASKS_FOLDER, write_zip
from faceparse_lib.report.latex import PAGE_LIMIT, hand_in_name

README = "Readme.txt"
SCREENSHOT = "leaderboard"  # the screenshot's name in the zip; its own extension is kept
SCREENSHOT_TYPES = (".png", ".jpg", ".jpeg")
MATRIC_PATTERN = re.compile(r"[A-Z]\d{7,8}[A-Z]")  # NTU's, e.g. U2212345A
OWN_CODE = "code/own"  # the student's notebooks and scripts: a folder of their own, so no name meets the kit's
_SKIPPED = ("__pycache__", ".ipynb_checkpoints")
CODE_TYPES = (".py", ".ipynb", ".sh", ".md", ".txt", ".yaml", ".yml", ".json", ".toml", ".cfg")


@dataclass
class NtulearnHandIn:
    """What was packed into the NTULearn zip (or why none was written) and what is still missing."""

    path: Path | None
    packed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Lines to print: the zip and its contents, then what to add before uploading it."""
        head = (f"{self.path}: {len(self.packed)} files for NTULearn" if self.path
                else "no NTULearn zip written")
        lines = [head] + [f"  warning: {w}" for w in self.warnings]
        if self.missing:
            lines += ["still missing (add it, then run this again):"] + [f"  - {m}" for m in self.missing]
        elif self.path:
            lines.append("complete: upload it to NTULearn")
        return "\n".join(lines)


def kit_code() -> dict[str, Path]:
    """The kit as installed, file by file (no caches), named as it sits under code/ in the zip."""
    import faceparse_lib

    package = Path(faceparse_lib.__file__).parent
    return {f"code/faceparse_lib/{p.relative_to(package).as_posix()}": p for p in sorted(package.rglob("*"))
            if p.is_file() and not any(part in _SKIPPED for part in p.parts) and p.suffix != ".pyc"}


def _code_files(paths: Sequence[Path], skipped: list[str]) -> dict[str, Path]:
    """The student's own code (notebooks, scripts, folders of them) under code/own/, by name within each folder.

    Only code and its text travel (CODE_TYPES): a folder given as code may also hold runs, weights, data or an
    earlier hand-in, which are left out and named in `skipped`. Two files that would get one name are refused.
    """
    files: dict[str, Path] = {}
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder to pack as your code")
        root = path.resolve()
        found = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for file in found:
            inside = file.relative_to(root).parts if root.is_dir() else ()
            if any(part in _SKIPPED or part.startswith(".") for part in inside):
                continue  # caches, .git, .DS_Store and the like
            if file.suffix.lower() not in CODE_TYPES:
                skipped.append(str(file))
                continue
            name = f"{OWN_CODE}/" + ("/".join((root.name, *inside)) if root.is_dir() else root.name)
            if name in files and files[name] != file:
                raise ValueError(f"{files[name]} and {file} would both be {name} in the zip: rename one, or pass "
                                 "their folders instead")
            files[name] = file
    return files


def _from_test_zip(test_zip: Path) -> tuple[dict[str, bytes], str]:
    """The test-phase zip's masks (under masks/), its solution code (under code/solution/) and checkpoint; and the
    solution's Readme.txt."""
    members: dict[str, bytes] = {}
    readme = ""
    with zipfile.ZipFile(test_zip) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name, data = info.filename, archive.read(info)
            if name.startswith(f"{MASKS_FOLDER}/"):
                members[name] = data
            elif name == f"solution/{CHECKPOINT}":
                members[CHECKPOINT] = data
            elif name == f"solution/{README}":
                readme = data.decode("utf-8", errors="replace")
            elif name.startswith("solution/"):
                members[f"code/{name}"] = data
    return members, readme


def readme_text(solution_readme: str, report: str | None, screenshot: str | None, masks: int,
                own_code: Sequence[str]) -> str:
    """Readme.txt of the NTULearn zip: its files and how to reproduce a mask, then the model, its parameters, the
    recipe and the libraries, as the solution's own Readme.txt says them."""
    files = [f"  {report or '(report PDF: not yet added)'}   the report",
             f"  {screenshot or '(leaderboard screenshot: not yet added)'}   the test-phase leaderboard",
             f"  {MASKS_FOLDER}/   {masks} predicted test masks, one PNG per test image, 8-bit class indices "
             f"0..{NUM_CLASSES - 1}",
             f"  {CHECKPOINT}   the trained weights that produced them",
             "  code/solution/   run.py, its requirements and the inference it imports (predicts one image)",
             "  code/faceparse_lib/   the training kit as it was used (python -m faceparse_lib --help)",
             *[f"  {name}   the student's own code" for name in own_code]]
    how = ("How to reproduce a mask\n  pip install -r code/solution/requirements.txt\n"
           f"  cd code/solution && python3 run.py --input IMAGE.jpg --output MASK.png --weights ../../{CHECKPOINT}\n")
    # The solution's model, recipe and libraries; its files and how to run are the ones above, laid out for this zip.
    _, heading, rest = solution_readme.partition(MODEL_HEADING)
    model = (heading + rest.partition(RUN_HEADING)[0]).rstrip()
    solution = f"\n{model}\n" if heading else ""
    return "Face parsing on CelebAMask-HQ: the NTULearn hand-in\n\nFiles\n" + "\n".join(files) + "\n\n" + how + solution


def pack_ntulearn(out_dir: str | Path, matric: str, test_zip: str | Path | None, report_pdf: str | Path | None = None,
                  screenshot: str | Path | None = None, name: str | None = None,
                  code: Sequence[str | Path] = (), prefix: str = "") -> NtulearnHandIn:
    """Write out_dir/{prefix}MATRIC.zip from the test-phase zip, the report PDF, the screenshot and the code; list what is
    missing. Without a matric number no zip is written (its name is the matric number)."""
    result = NtulearnHandIn(None)
    matric = (matric or "").strip().upper()
    if not matric:
        result.missing.append("your matric number (MATRIC): the zip is named with it")
    elif not MATRIC_PATTERN.fullmatch(matric):
        result.warnings.append(f"{matric!r} does not look like an NTU matric number (a letter, 7-8 digits, a letter)")
    if not name:
        result.missing.append("your name (NAME): the report PDF is named NAME_MATRIC_project_1.pdf")

    members: dict[str, Path | bytes] = {}
    solution_readme, masks = "", 0
    if test_zip and Path(test_zip).is_file():
        problems = check_submission(test_zip, solution=True)
        if problems:
            result.missing += [f"a test-phase zip the grader accepts: {p}" for p in problems]
        else:
            from_zip, solution_readme = _from_test_zip(Path(test_zip))
            members.update(from_zip)
            masks = sum(1 for n in from_zip if n.startswith(f"{MASKS_FOLDER}/"))
    else:
        result.missing.append(f"the test-phase zip ({test_zip or 'none given'}): build it in notebook 4 once "
                              "test.zip has arrived; it gives the test masks, the checkpoint and run.py")

    report_name = None
    if report_pdf and Path(report_pdf).is_file():
        report_pdf = Path(report_pdf)
        if report_pdf.read_bytes()[:5] != b"%PDF-":
            result.missing.append(f"{report_pdf} is not a PDF: compile report.tex and save the PDF there")
        else:
            report_name = hand_in_name(name, matric) if name and matric else report_pdf.name
            members[report_name] = report_pdf
    else:
        wanted = hand_in_name(name or "NAME", matric or "MATRIC")
        result.missing.append(f"the report PDF ({report_pdf or wanted}): compile report.tex (pdflatex or Overleaf), "
                              f"at most {PAGE_LIMIT} A4 pages")

    shot_name = None
    if screenshot and Path(screenshot).is_file() and Path(screenshot).suffix.lower() in SCREENSHOT_TYPES:
        shot_name = SCREENSHOT + Path(screenshot).suffix.lower()
        members[shot_name] = Path(screenshot)
    else:
        why = (f"{screenshot} is not a PNG or JPEG" if screenshot and Path(screenshot).is_file()
               else f"{screenshot or 'none given'}")
        result.missing.append(f"the leaderboard screenshot ({why}): save one of the test phase's leaderboard")

    skipped: list[str] = []
    own = _code_files([Path(p) for p in code], skipped)
    if skipped:
        result.warnings.append(f"{len(skipped)} file(s) under CODE are not code and were left out, e.g. "
                               + ", ".join(skipped[:3]))
    if not own:
        result.missing.append("your own code (CODE): the notebooks you ran and any scripts, e.g. on Colab "
                              "'/content/drive/MyDrive/Colab Notebooks/03_training.ipynb'; the kit's code is packed")
    members.update(kit_code())
    members.update(own)
    members[README] = readme_text(solution_readme, report_name, shot_name, masks, sorted(own)).encode()
    if matric:
        result.path = write_zip(members, Path(out_dir) / f"{prefix}{matric}.zip", compression=zipfile.ZIP_DEFLATED)
        result.packed = sorted(members)
    return result
