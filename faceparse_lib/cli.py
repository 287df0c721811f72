"""`python -m faceparse_lib COMMAND`: one sub-command per module in `faceparse_lib.commands`."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import faceparse_lib.commands as _commands_pkg

# Commands in the order a student meets them; any other module in commands/ is listed after these.
ORDER = ("synth", "prepare", "check", "weights", "train", "evaluate", "predict", "figures", "demo", "bench")


def command_names() -> list[str]:
    """Names of the available sub-commands, in workflow order."""
    found = {m.name for m in pkgutil.iter_modules(_commands_pkg.__path__) if not m.name.startswith("_")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command attached."""
    parser = argparse.ArgumentParser(
        prog="python -m faceparse_lib",
        description="Face parsing on CelebAMask-HQ: data, weights, metrics, models and benchmarks.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_names():
        module = importlib.import_module(f"{_commands_pkg.__name__}.{name}")
        doc = (module.__doc__ or "").strip().splitlines()[0]
        command = sub.add_parser(name, help=doc, description=doc)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv`, run the chosen command and return its exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
