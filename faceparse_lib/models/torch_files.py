"""Reading files written by torch.save safely: what they are, and the one error for a file that is not usable."""

from __future__ import annotations

import re
import pickle
import zipfile
from pathlib import Path


class CheckpointError(ValueError):
    """A file that is not a usable kit checkpoint; the message names it and says what was found."""


# torch.save's format before torch 1.6 (not a zip archive) starts with this pickled magic number.
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def is_torch_file(path: str | Path) -> bool:
    """Whether `path` was written by torch.save, in the zip format or the legacy one (older model zoos use it)."""
    try:
        if zipfile.is_zipfile(path):
            return True
        with open(path, "rb") as handle:
            return handle.read(len(_LEGACY_MAGIC)) == _LEGACY_MAGIC
    except OSError:
        return False


def unpickler_reason(err: pickle.UnpicklingError) -> str:
    """The one line of torch's weights-only refusal that names the object (not its advice to load unsafely)."""
    found = re.search(r"WeightsUnpickler error: ([^\n]*?)(\. |\n|$)", str(err))
    return found.group(1) if found else str(err).splitlines()[0]
