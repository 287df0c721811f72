"""The report of a run: its tables, its figures and report.md in the seed report's order."""

from faceparse_lib import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "write_report": "writer", "read_run": "runs", "parameter_table": "tables", "markdown_table": "tables",
})
