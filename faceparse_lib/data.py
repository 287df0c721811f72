"""The course layout as a torch Dataset; the file readers and the checker live in `layout` and `check` (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

# Re-exported: these names have always been importable from here.
from faceparse_lib.check import CheckReport, SplitReport, check_dataset
from faceparse_lib.layout import (
    IMAGE_SUFFIXES,
    MASK_SUFFIX,
    SPLITS,
    DatasetError,
    decode_image,
    files_by_stem,
    invalid_labels,
    list_pairs,
    open_image,
    read_image,
    read_mask,
    read_pair,
    require_same_size,
    validate_mask,
)

__all__ = [
    "FaceParsingDataset", "to_tensors", "CheckReport", "SplitReport", "check_dataset", "IMAGE_SUFFIXES", "MASK_SUFFIX",
    "SPLITS", "DatasetError", "decode_image", "files_by_stem", "invalid_labels", "list_pairs", "open_image",
    "read_image", "read_mask", "read_pair", "require_same_size", "validate_mask",
]


def to_tensors(image: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """H×W×3 uint8 image and H×W mask -> float32 C×H×W in [0, 1] and int64 H×W."""
    image_t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255)
    return image_t, torch.from_numpy(np.ascontiguousarray(mask)).long()


class FaceParsingDataset(torch.utils.data.Dataset):
    """One split of the course layout as (image float32 C×H×W, mask int64 H×W) pairs."""

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transform: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> None:
        self.root, self.split, self.transform = Path(root), split, transform
        self.pairs = list_pairs(self.root, split)

    @property
    def mask_paths(self) -> list[Path]:
        """The mask file of every sample, in sample order."""
        return [mask for _, mask in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = to_tensors(*read_pair(*self.pairs[index]))
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask

    def __repr__(self) -> str:
        return f"FaceParsingDataset(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"
