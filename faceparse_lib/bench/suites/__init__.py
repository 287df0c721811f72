"""Benchmark suites for `python -m faceparse_lib bench`: each module here defines `run(quick) -> list[Comparison]`."""
