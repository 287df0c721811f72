"""Rewrite the notebooks' Colab badges and setup cells from the repository address, check them, or run them all."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_FOLDER = Path(__file__).resolve().parents[3] / "notebooks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("sync", "check", "run"),
                        help="sync: regenerate badges/setup cells and the .ipynb from each .py; check: report what "
                             "is out of sync (exit 1); run: execute the notebooks in order into --out")
    parser.add_argument("names", nargs="*", help="notebooks to act on, e.g. 01 03_training (default: all)")
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="the notebooks folder")
    parser.add_argument("--out", type=Path, default=Path("demo/notebooks"), help="run: folder for executed copies")
    parser.add_argument("--quick", action="store_true", help="run: CI's short settings (FACEPARSE_QUICK=1)")


def _selected(folder: Path, names: list[str]) -> list[Path]:
    from faceparse_lib.course.notebooks import notebook_sources

    sources = notebook_sources(folder)
    if not sources:
        raise FileNotFoundError(f"{folder}: no notebooks (NN_name.py) found")
    if not names:
        return sources
    chosen = [s for s in sources if any(s.stem == n or s.stem.startswith(f"{n}_") for n in names)]
    unknown = [n for n in names if not any(s.stem == n or s.stem.startswith(f"{n}_") for s in sources)]
    if unknown:
        raise ValueError(f"no notebook {', '.join(unknown)} in {folder}; have {', '.join(s.stem for s in sources)}")
    return chosen


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.course import notebooks

    try:
        sources = _selected(args.folder, args.names)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.action == "sync":
        for source in sources:
            print(f"wrote {notebooks.sync_notebook(source)}")
        return 0
    if args.action == "check":
        problems = [p for source in sources for p in notebooks.notebook_problems(source)]
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{len(sources)} notebooks, {len(problems)} problem(s)")
        return 1 if problems else 0
    from nbclient.exceptions import CellExecutionError

    env = {"FACEPARSE_RAISE_CALLBACK_ERRORS": "1"}  # a failing widget callback must fail the run
    if args.quick:
        env["FACEPARSE_QUICK"] = "1"
    try:
        notebooks.run_notebooks(sources, args.out, env=env, report=lambda line: print(line, flush=True))
    except CellExecutionError as err:
        print(f"error: {str(err).splitlines()[-1] if str(err) else err}", file=sys.stderr)
        return 1
    return 0
