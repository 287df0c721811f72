"""Train named recipes for one budget on the same pairs and holdout, and print their holdout F-scores side by side."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from faceparse_lib.training.recipes import BASELINE, Budget

    default = Budget()
    parser.add_argument("data_root", type=Path, nargs="?", metavar="DATA_ROOT",
                        help="a set with train/images and train/masks (the hand-out's folder or a prepared set)")
    parser.add_argument("--recipes", default=f"{BASELINE},augmented", metavar="A,B",
                        help=f"comma-separated recipe names (default: {BASELINE},augmented; --list names them)")
    parser.add_argument("--seeds", default="0", metavar="S,T", help="training seeds, comma-separated (default: 0)")
    parser.add_argument("--iterations", type=int, default=default.iterations)
    parser.add_argument("--input-size", type=int, default=default.input_size, metavar="PX")
    parser.add_argument("--crop-size", type=int, default=default.crop_size, metavar="PX")
    parser.add_argument("--batch-size", type=int, default=default.batch_size)
    parser.add_argument("--holdout", type=int, default=default.holdout, metavar="N")
    parser.add_argument("--work", type=Path, default=Path("runs/recipes"), metavar="DIR",
                        help="where the runs go; a finished run there is read back, not trained again")
    parser.add_argument("--list", action="store_true", help="name every recipe and what it changes, then stop")


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.bench.recipes import compare_recipes, recipe_table
    from faceparse_lib.training.recipes import RECIPES, Budget

    if args.list:
        for name, fields in RECIPES.items():
            print(f"{name:24} {fields or 'the challenge preset as it is'}")
        return 0
    if args.data_root is None:
        raise ValueError("usage: recipes DATA_ROOT [--recipes A,B] [--seeds 0,1] [--iterations N]")
    names = [name.strip() for name in args.recipes.split(",") if name.strip()]
    unknown = [name for name in names if name not in RECIPES]
    if unknown:
        raise ValueError(f"unknown recipe(s) {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    budget = Budget(args.iterations, args.input_size, args.crop_size, args.batch_size, args.holdout)
    runs = compare_recipes(args.data_root, names, budget, seeds, args.work)
    print(f"\n{args.data_root}: {budget.describe()}; holdout F-score (the challenge's per-image score)\n")
    print(recipe_table(runs))
    return 0
