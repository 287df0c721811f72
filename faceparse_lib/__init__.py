"""faceparse_lib: face parsing on CelebAMask-HQ for a course kit (data, models, training, evaluation, report, course).

Layers, each importing only the ones before it: classes, data, models, evaluation, training, visual, report, course,
cli and bench. Each subpackage names its public API in its `__init__`, imported on first use, so reading the file
layer or a config never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from faceparse_lib.classes import CLASSES, FLIP_PAIRS, IGNORE_INDEX, NUM_CLASSES, PALETTE, colorize

__version__ = "0.1.0"
__all__ = ["CLASSES", "FLIP_PAIRS", "IGNORE_INDEX", "NUM_CLASSES", "PALETTE", "colorize", "__version__"]


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """`__getattr__`, `__dir__` and `__all__` for a subpackage whose public names live in its modules.

    `exports` maps each public name to the module (relative to `package`) that defines it; the module is imported
    when the name is first asked for, as PEP 562 allows.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__, sorted(exports)
