"""Build the challenge's hand-in zips from a run (one per phase), or check any zip."""

from __future__ import annotations

import argparse
from pathlib import Path

PHASE_NAMES = ("development", "test")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("items", nargs="+", metavar="ARG",
                        help="RUN_DIR DATA_ROOT --phase development|test [--out OUT.zip] to build a phase's zip; "
                             "RUN_DIR IMAGES OUT.zip [--with-solution] to build one from any images folder; "
                             "or: check ZIP to list every problem of a zip")
    parser.add_argument("--phase", choices=PHASE_NAMES, default=None,
                        help="development: masks of the val images; test: masks of the test images + solution/")
    parser.add_argument("--out", type=Path, default=None, metavar="ZIP",
                        help="with --phase: where to write the zip (default: RUN_DIR/PHASE-phase.zip)")
    parser.add_argument("--not-best", action="store_true",
                        help="with --phase test: hand in this run even if another run in its folder scored higher")
    parser.add_argument("--with-solution", action="store_true",
                        help="add solution/ (ckpt.pth, run.py, requirements.txt, Readme.txt): the test phase")
    parser.add_argument("--tta", choices=("flip",), default=None, help="flip test-time augmentation (run.py repeats it)")
    parser.add_argument("--images", type=Path, default=None, metavar="DIR",
                        help="with check: the test images, to check one mask per image by name and size")
    parser.add_argument("--run", nargs="?", type=int, const=0, default=None, metavar="N",
                        help="with check and --images: rehearse the grader, running solution/run.py on N test images "
                             "(default: all) in a fresh environment and comparing each output with masks/")
    parser.add_argument("--python", default=None, metavar="PATH",
                        help="with --run: the interpreter of the fresh environment (default: this one's)")
    parser.add_argument("--reuse-env", action="store_true",
                        help="with --run: use this environment's packages instead of installing requirements.txt "
                             "(faster; faceparse_lib hidden; does not prove that the requirements install)")
    parser.add_argument("--gpu", action="store_true", help="with --run: let run.py see CUDA (hidden by default)")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="S",
                        help="with --run: seconds allowed per image, start-up included (default: 300)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.course.submission import build_submission, check_submission, hand_in

    if args.items[0] == "check":
        if len(args.items) != 2:
            raise ValueError("usage: submission check ZIP [--images TEST_IMAGES [--run [N]]]")
        if args.run is not None and (args.images is None or args.run < 0):
            raise ValueError("--run needs --images TEST_IMAGES (run.py is run on the test images) and N >= 0 "
                             "(0 or nothing: every image); put --run after the zip")
        warnings: list[str] = []
        problems = check_submission(args.items[1], images=args.images, warnings=warnings)
        for warning in warnings:
            print(f"warning: {warning}")
        for problem in problems:
            print(f"problem: {problem}")
        if args.run is not None:
            from faceparse_lib.course.rehearsal import rehearse

            rehearsal = rehearse(args.items[1], args.images, args.run or None, python=args.python,
                                 reuse_environment=args.reuse_env, timeout=args.timeout, hide_cuda=not args.gpu,
                                 say=print)
            print(rehearsal.summary())
            problems += rehearsal.problems
        if problems:
            raise ValueError(f"{len(problems)} problem(s) in {args.items[1]}")
        print(f"{args.items[1]}: no problem found")
        return 0
    if args.phase is not None:
        if len(args.items) != 2:
            raise ValueError("usage: submission RUN_DIR DATA_ROOT --phase development|test [--out ZIP] [--tta flip]")
        run_dir, data_root = (Path(item) for item in args.items)
        siblings = sorted(p for p in run_dir.resolve().parent.iterdir() if p.is_dir())
        result = hand_in(run_dir, data_root, args.phase, out=args.out, tta=args.tta, compare_with=siblings,
                         allow_not_best=args.not_best, progress=not args.no_progress)
        print(result.summary())  # it lists the problems and warnings
        return 1 if result.problems else 0
    if len(args.items) != 3:
        raise ValueError("usage: submission RUN_DIR TEST_IMAGES OUT.zip [--with-solution] [--tta flip]")
    run_dir, images, out = (Path(item) for item in args.items)
    path = build_submission(run_dir, images, out, with_solution=args.with_solution, tta=args.tta,
                            progress=not args.no_progress)
    problems = check_submission(path, images=images, solution=args.with_solution)
    for problem in problems:
        print(f"problem: {problem}")
    print(f"wrote {path}" + (" (checked: no problem found)" if not problems else ""))
    return 1 if problems else 0
