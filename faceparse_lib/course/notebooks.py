"""The course notebooks as files: their Colab badge and setup cell (from one repository address), sync, run all.

Each notebook is a jupytext percent `.py` (what you edit and review) paired with an `.ipynb` (what Colab opens),
committed without outputs. Cell 1 is the Open-in-Colab badge and cell 2 the setup cell; both are generated here
from `REPOSITORY`, so changing the address is one edit and `python -m faceparse_lib notebooks sync`.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping

log = logging.getLogger(__name__)

# The one place the published address lives: whoever publishes the kit sets it, then runs `notebooks sync`. Until
# it answers, the setup cell installs from a copy of the kit on Drive and says so when there is none.
REPOSITORY = "https://github.com/faceparse-kit/faceparse-kit"
BRANCH = "main"
NOTEBOOK_DIR = "notebooks"
DRIVE_KIT = "/content/drive/MyDrive/faceparse-kit"  # a copy of the kit on Drive is installed instead of a clone
CLONE_DIR = "/content/faceparse-kit"
PLACEHOLDER = "REPOSITORY_ADDRESS"
JUPYTEXT_FORMATS = "ipynb,py:percent"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
NOTEBOOK_TIMEOUT_S = 1800


def github_path(url: str = REPOSITORY) -> str:
    """owner/name of a GitHub address."""
    prefix = "https://github.com/"
    if not url.startswith(prefix) or url.rstrip("/").count("/") != 4:
        raise ValueError(f"{url!r}: expected a GitHub address https://github.com/OWNER/NAME")
    return url[len(prefix):].rstrip("/").removesuffix(".git")


def colab_url(notebook: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """The address that opens `notebook` (e.g. 01_data_exploration.ipynb) from GitHub in Colab."""
    return f"https://colab.research.google.com/github/{github_path(repository)}/blob/{branch}/{NOTEBOOK_DIR}/{notebook}"


def badge_source(notebook: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """The markdown of the first cell: an Open-in-Colab badge for `notebook`."""
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(notebook, repository, branch)})")


SETUP_TEMPLATE = '''\
# Setup. On Colab: mount Drive, install the kit (a copy on Drive if there is one, else a clone of the repository)
# while pinning Colab's own torch, torchvision, ipywidgets and numpy, so pip never replaces them. Elsewhere: nothing.
import glob
import os
import sys

REPOSITORY = "{repository}"  # the kit's published address; "" = install only from a copy on Drive
if "google.colab" in sys.modules or any(name.startswith("COLAB_") for name in os.environ):
    import importlib
    import subprocess

    from google.colab import drive

    drive.mount("/content/drive")
    # The kit: MyDrive/faceparse-kit, else the first folder up to three down on Drive holding pyproject.toml beside
    # faceparse_lib/, else a clone of REPOSITORY, else what to do: never a bare traceback.
    kit = "{drive_kit}"
    if not os.path.isfile(kit + "/pyproject.toml"):
        copies = (os.path.dirname(p) for depth in range(4)
                  for p in sorted(glob.glob("/content/drive/MyDrive/" + "*/" * depth + "pyproject.toml"))
                  if os.path.isfile(os.path.dirname(p) + "/faceparse_lib/__init__.py"))
        kit = next(copies, "{clone_dir}")
    if kit == "{clone_dir}" and not os.path.isdir(kit):
        no_prompt = dict(os.environ, GIT_TERMINAL_PROMPT="0")  # a wrong or private address fails, never hangs
        cloned = REPOSITORY and subprocess.run(["git", "clone", "-q", "--depth", "1", REPOSITORY, kit],
                                               env=no_prompt).returncode == 0
        if not cloned:
            raise RuntimeError(f"The kit is not on your Drive and could not be cloned from {{REPOSITORY or '(no address set)'}}. "
                               "Copy the kit's folder (the one holding pyproject.toml and faceparse_lib/) to "
                               "MyDrive/faceparse-kit, then Run all again.")
    subprocess.run("pip freeze | grep -iE '^(torch|torchvision|ipywidgets|numpy)==' > /tmp/colab-constraints.txt",
                   shell=True, check=True)
    subprocess.run(["pip", "install", "-q", "-c", "/tmp/colab-constraints.txt", "-e", kit], check=True)
    if kit not in sys.path:  # an editable install is seen by new kernels only; this one imports from the folder
        sys.path.insert(0, kit)
    importlib.invalidate_caches()
    print(f"faceparse kit installed from {{kit}}")
else:
    print("Not on Colab: using the faceparse_lib of this environment.")'''


# Every notebook's settings cell, the same in all five (sync writes it wherever a code cell starts with `DATA =`),
# so notebooks 3-5 in their own runtimes name the data and the run dir that notebook 1 did.
SETTINGS_SOURCE = '''\
DATA = ""                # folder (or zip) of the hand-out; "" = search your Drive (Colab) or data/ (elsewhere)
RUN_DIR = ""             # "" = faceparse-runs/RULES-PRESET-DATA on your Drive, the same in every notebook
RULES = "challenge"      # "challenge" (2025/26: F-score, < 1,821,085 parameters, no pretraining) or "seed" (2022)
PRESET = ""              # "" = the rules' GPU recipe; "first-run" = minutes on a T4; "laptop" = ~20 min on 2 CPU cores
DEMO = False             # True = the kit's synthetic faces instead of the course's data
RELABEL_SWAPPED = False  # True = train on a copy whose left/right-swapped masks are relabelled (notebook 1)'''
SETTINGS_START = "DATA = "


def setup_source(repository: str = REPOSITORY) -> str:
    """The code of the second cell: installs the kit on Colab, does nothing elsewhere."""
    github_path(repository)
    return SETUP_TEMPLATE.format(repository=repository, drive_kit=DRIVE_KIT, clone_dir=CLONE_DIR)


def notebook_sources(folder: str | Path) -> list[Path]:
    """The jupytext .py files of the notebooks in `folder`, in order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.py"))


def _header_cells(ipynb_name: str, repository: str):
    import nbformat

    return [nbformat.v4.new_markdown_cell(badge_source(ipynb_name, repository)),
            nbformat.v4.new_code_cell(setup_source(repository))]


def _clean(notebook) -> None:
    """Drop outputs, execution counts and ids-only noise; set the pairing and kernel metadata."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    notebook.metadata["jupytext"] = {"formats": JUPYTEXT_FORMATS}
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.metadata.setdefault("colab", {"provenance": []})
    notebook.metadata["accelerator"] = "GPU"


def sync_notebook(source: str | Path, repository: str = REPOSITORY) -> Path:
    """Regenerate the badge and setup cells of a notebook's .py and write the paired .ipynb without outputs."""
    import jupytext

    source = Path(source)
    ipynb = source.with_suffix(".ipynb")
    notebook = jupytext.read(source)
    header = _header_cells(ipynb.name, repository)
    if len(notebook.cells) >= 2 and notebook.cells[0].cell_type == "markdown" and "colab-badge" in notebook.cells[0].source:
        notebook.cells[:2] = header
    else:
        notebook.cells[:0] = header
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith(SETTINGS_START):
            cell.source = SETTINGS_SOURCE
    _clean(notebook)
    jupytext.write(notebook, source, fmt="py:percent")
    jupytext.write(notebook, ipynb, fmt="ipynb")
    return ipynb


def notebook_problems(source: str | Path, repository: str = REPOSITORY) -> list[str]:
    """What is wrong with a notebook pair: out of sync, outputs committed, badge or setup cell not generated."""
    import jupytext

    source = Path(source)
    ipynb = source.with_suffix(".ipynb")
    if not ipynb.is_file():
        return [f"{ipynb}: missing; run `python -m faceparse_lib notebooks sync`"]
    problems = []
    as_py, as_ipynb = jupytext.read(source), jupytext.read(ipynb)
    cells_py = [(c.cell_type, c.source) for c in as_py.cells]
    cells_ipynb = [(c.cell_type, c.source) for c in as_ipynb.cells]
    if cells_py != cells_ipynb:
        first = next((i for i, (a, b) in enumerate(zip(cells_py, cells_ipynb)) if a != b), min(len(cells_py), len(cells_ipynb)))
        problems.append(f"{ipynb}: differs from {source.name} from cell {first + 1} on; run `python -m faceparse_lib notebooks sync`")
    for index, cell in enumerate(as_ipynb.cells, 1):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"{ipynb}: cell {index} has outputs or an execution count; commit notebooks cleared")
    header = [(c.cell_type, c.source) for c in _header_cells(ipynb.name, repository)]
    if cells_ipynb[:2] != header:
        problems.append(f"{ipynb}: badge and setup cell differ from the ones made from {repository}; run sync")
    settings = [source for kind, source in cells_ipynb if kind == "code" and source.startswith(SETTINGS_START)]
    if settings != [SETTINGS_SOURCE]:
        problems.append(f"{ipynb}: expected one settings cell equal to SETTINGS_SOURCE (faceparse_lib/course/notebooks.py), "
                        f"found {len(settings)} cell(s) starting with {SETTINGS_START!r}; run sync")
    for path in (source, ipynb):
        if PLACEHOLDER in path.read_text(encoding="utf-8"):
            problems.append(f"{path}: still holds the placeholder {PLACEHOLDER}")
    return problems


def run_notebooks(
    notebooks: Iterable[str | Path],
    out_dir: str | Path,
    env: Mapping[str, str] | None = None,
    timeout: int = NOTEBOOK_TIMEOUT_S,
    report: Callable[[str], None] = lambda line: None,
) -> list[Path]:
    """Execute notebooks in order (each in its own folder) and write the executed copies to `out_dir`.

    `env` is added to the kernels' environment (for example FACEPARSE_QUICK=1). Stops at the first failing
    notebook, raising nbclient's CellExecutionError (its copy, with the traceback, is written first).
    `report` gets one line per notebook.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    saved = dict(os.environ)
    os.environ.update(env or {})  # kernels inherit this process's environment
    try:
        for path in map(Path, notebooks):
            notebook = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
            client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                    resources={"metadata": {"path": str(path.parent.resolve())}})
            start = time.perf_counter()
            report(f"{path.stem}: running")
            target = out_dir / path.with_suffix(".ipynb").name
            try:
                client.execute()
            except CellExecutionError:
                nbformat.write(notebook, target)
                report(f"{path.stem}: FAILED after {time.perf_counter() - start:.0f} s (see {target})")
                raise
            nbformat.write(notebook, target)
            written.append(target)
            report(f"{path.stem}: done in {time.perf_counter() - start:.0f} s -> {target}")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return written
