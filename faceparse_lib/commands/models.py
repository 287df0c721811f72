"""List models with their parameter counts and output strides; refuse any over a parameter budget."""

from __future__ import annotations

import argparse
import sys

from faceparse_lib.classes import NUM_CLASSES
from faceparse_lib.model import PARAMETER_BUDGET, build_model, check_parameter_budget, model_names, model_summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names", nargs="*", metavar="NAME",
        help=f"registered names ({', '.join(model_names())}) or smp:ARCH:ENCODER (default: every registered model)",
    )
    parser.add_argument(
        "--max-params", type=int, metavar="N",
        help=f"exit non-zero if a model has more than N parameters (later course years: {PARAMETER_BUDGET})",
    )
    parser.add_argument("--num-classes", type=int, default=NUM_CLASSES, help="classes the models predict (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    over_budget = False
    for name in args.names or model_names():
        try:
            model = build_model(name, num_classes=args.num_classes)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(model_summary(model, name), flush=True)
        if args.max_params is not None:
            try:
                check_parameter_budget(model, args.max_params, name=name)
            except ValueError as error:
                print(f"error: {error}", file=sys.stderr)
                over_budget = True
    return 1 if over_budget else 0
