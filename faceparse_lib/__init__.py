"""faceparse_lib: face parsing on CelebAMask-HQ for a course kit (data, models, training, metrics, figures)."""

from faceparse_lib.classes import CLASSES, FLIP_PAIRS, IGNORE_INDEX, NUM_CLASSES, PALETTE, colorize

__version__ = "0.1.0"
__all__ = ["CLASSES", "FLIP_PAIRS", "IGNORE_INDEX", "NUM_CLASSES", "PALETTE", "colorize", "__version__"]
