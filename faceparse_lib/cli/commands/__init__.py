"""Sub-commands of `python -m faceparse_lib`: each module has a docstring (its help line),
`add_arguments(parser)` and `run(args) -> int`."""
