"""List models with their parameter counts and output strides; refuse any over a parameter budget."""

from __future__ import annotations

import argparse
import sys

from faceparse_lib.classes import NUM_CLASSES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # The help names no model: listing them would import torch and the model zoo just to print it.
    parser.add_argument(
        "names", nargs="*", metavar="NAME",
        help="registered model names or smp:ARCH:ENCODER (default: every registered model)",
    )
    parser.add_argument(
        "--max-params", type=int, metavar="N",
        help="exit non-zero unless every model has fewer than N parameters (the challenge asks for fewer than 1821085)",
    )
    parser.add_argument("--num-classes", type=int, default=NUM_CLASSES, help="classes the models predict (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.data.rules import RULE_SETS
    from faceparse_lib.models.zoo import build_model, check_parameter_budget, count_parameters, model_names, model_summary

    cap = RULE_SETS["challenge"].max_parameters
    over_budget = False
    for name in args.names or model_names():
        model = build_model(name, num_classes=args.num_classes)  # an unknown name: ValueError, reported by the CLI
        room = cap - 1 - count_parameters(model)  # the challenge asks for fewer than `cap`
        fits = f"challenge cap: {room:,} to spare" if room >= 0 else f"challenge cap: over by {-room:,}"
        print(f"{model_summary(model, name)}  ({fits})", flush=True)
        if args.max_params is not None:
            try:
                check_parameter_budget(model, args.max_params, name=name)
            except ValueError as error:
                print(f"error: {error}", file=sys.stderr)
                over_budget = True
    return 1 if over_budget else 0
