"""Write the report's tables, figures, report.md and report.tex from one or more run dirs (the first is reported, the rest compared)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR",
                        help="run dirs written by train; several are overlaid on one validation curve of the score their rules rank by")
    parser.add_argument("--out", type=Path, default=Path("report"), metavar="DIR",
                        help="where report.md, figures/ and tables/ go (default: report)")
    parser.add_argument("--data-root", type=Path, default=None, metavar="ROOT",
                        help="dataset whose val split scores the best checkpoint (default: the run's data_root)")
    parser.add_argument("--samples", type=int, default=4, help="val images in the sample-predictions figure (default: 4)")
    parser.add_argument("--device", default="cpu", help="device for scoring the checkpoint (default: cpu)")
    parser.add_argument("--name", default=None, help="your name, filled into report.tex (default: a placeholder)")
    parser.add_argument("--matric", default=None, help="your matric number, filled into report.tex")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.models.torch_files import CheckpointError
    from faceparse_lib.data.layout import DatasetError
    from faceparse_lib.report.latex import EDITED_TEX, REPORT_TEX
    from faceparse_lib.report.writer import write_report

    try:
        report = write_report(args.run_dirs, args.out, data_root=args.data_root, samples=args.samples,
                              device=args.device, progress=not args.no_progress, name=args.name,
                              matric=args.matric)
    except (FileNotFoundError, ValueError, DatasetError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for sub in ("tables", "figures"):
        names = sorted(p.name for p in (report.parent / sub).iterdir())
        print(f"{report.parent / sub}: {', '.join(names)}")
    fresh = report.with_name(EDITED_TEX)  # written instead of report.tex when that one holds the student's edits
    edited = fresh.is_file() and fresh.stat().st_mtime_ns >= report.stat().st_mtime_ns
    tex = fresh if edited else report.with_name(REPORT_TEX)
    print(f"wrote {report} and {tex} (the report to hand in: compile it with pdflatex or upload its folder to "
          "Overleaf)" + (f"; {REPORT_TEX} beside it may hold your edits and was left as it is" if tex == fresh else ""))
    return 0
