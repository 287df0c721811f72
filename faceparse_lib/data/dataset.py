"""The course layout as a torch Dataset of (image, mask) tensors; the file readers live in `layout` (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from faceparse_lib.data.layout import list_pairs, read_pair


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

    @classmethod
    def from_pairs(cls, pairs: list[tuple[Path, Path]], transform: Callable | None = None) -> FaceParsingDataset:
        """A dataset of the given (image, mask) paths, e.g. a holdout carved from train."""
        dataset = cls.__new__(cls)
        root = Path(pairs[0][0]).parents[2] if pairs else Path(".")  # ROOT/SPLIT/images/NAME
        dataset.root, dataset.split, dataset.transform = root, "pairs", transform
        dataset.pairs = list(pairs)
        return dataset

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
