"""`python -m faceparse_lib COMMAND`: one sub-command per module in `faceparse_lib.cli.commands`, imported only when used."""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import logging
import sys
import traceback
from types import ModuleType

# Command name -> module, in the order a student meets them. Adding a command is one line here. A module has a
# docstring (its help line, read without importing it), `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, str] = {
    "synth": "faceparse_lib.cli.commands.synth",
    "prepare": "faceparse_lib.cli.commands.prepare",
    "check": "faceparse_lib.cli.commands.check",
    "weights": "faceparse_lib.cli.commands.weights",
    "models": "faceparse_lib.cli.commands.models",
    "train": "faceparse_lib.cli.commands.train",
    "evaluate": "faceparse_lib.cli.commands.evaluate",
    "predict": "faceparse_lib.cli.commands.predict",
    "framing": "faceparse_lib.cli.commands.framing",
    "score": "faceparse_lib.cli.commands.score",
    "submission": "faceparse_lib.cli.commands.submission",
    "convert-labels": "faceparse_lib.cli.commands.convert_labels",
    "figures": "faceparse_lib.cli.commands.figures",
    "notebooks": "faceparse_lib.cli.commands.notebooks",
    "demo": "faceparse_lib.cli.commands.demo",
    "bench": "faceparse_lib.cli.commands.bench",
    "recipes": "faceparse_lib.cli.commands.recipes",
    "export": "faceparse_lib.cli.commands.export",
}

# Bad input, said plainly: DatasetError and CheckpointError are ValueErrors; OSError covers missing or unwritable
# paths. The message goes to stderr with exit code 1; --verbose adds the traceback.
USER_ERRORS = (ValueError, OSError)


def command_names() -> list[str]:
    """Names of the sub-commands, in workflow order."""
    return list(COMMANDS)


def help_line(name: str) -> str:
    """The first line of a command module's docstring, read from its source without importing it."""
    spec = importlib.util.find_spec(COMMANDS[name])
    with open(spec.origin, encoding="utf-8") as source:
        doc = ast.get_docstring(ast.parse(source.read())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def load_command(name: str) -> ModuleType:
    """Import the module of command `name`."""
    return importlib.import_module(COMMANDS[name])


def _chosen(argv: list[str]) -> str | None:
    """The command named in `argv`: the first word that is one (the global options take no values)."""
    return next((word for word in argv if word in COMMANDS), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command listed with its help line, only the one named in `argv` (if any) filled in."""
    parser = argparse.ArgumentParser(
        prog="python -m faceparse_lib",
        description="Face parsing on CelebAMask-HQ: data, class weights, models, training, evaluation and report.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details (and tracebacks of errors)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = _chosen(argv or [])
    for name in COMMANDS:
        doc = help_line(name)
        command = sub.add_parser(name, help=doc, description=doc)
        if name == chosen:
            module = load_command(name)
            module.add_arguments(command)
            command.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv`, run the chosen command and return its exit code; bad input is one line on stderr and 1."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args._run(args) or 0)
    except USER_ERRORS as err:
        if args.verbose:
            traceback.print_exc()
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
