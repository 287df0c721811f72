"""The training stream: which samples, with which augmentation seeds, make batch t (a pure function of t).

Because batch t is computed from (seed, t) alone, a resumed run draws exactly the batches an uninterrupted
run would have drawn, whatever the number of DataLoader workers, and DDP ranks split one global batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Sampler

from faceparse_lib.data.layout import read_pair
from faceparse_lib.standalone.inference import resize_images

# Sample seeds are seed * SEED_STRIDE + position in the stream, so no two draws of a run share a seed.
SEED_STRIDE = 2**40


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of the n samples in one epoch (the same on every machine for the same seed and epoch)."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=generator)


def stream_positions(iteration: int, batch_size: int, world_size: int = 1, rank: int = 0) -> range:
    """Positions in the endless sample stream that `rank` draws for `iteration` (one global batch per iteration)."""
    start = (iteration * world_size + rank) * batch_size
    return range(start, start + batch_size)


class StreamBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of (sample index, augmentation seed) for iterations start..stop-1: epochs of seeded permutations."""

    def __init__(self, n: int, batch_size: int, start: int, stop: int, seed: int, world_size: int = 1, rank: int = 0):
        if n < 1:
            raise ValueError("no training samples")
        self.n, self.batch_size, self.start, self.stop = n, batch_size, start, stop
        self.seed, self.world_size, self.rank = seed, world_size, rank
        self._permutations: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def _index(self, position: int) -> int:
        epoch, offset = divmod(position, self.n)
        if epoch not in self._permutations:
            self._permutations = {epoch: epoch_permutation(self.n, self.seed, epoch)}
        return int(self._permutations[epoch][offset])

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for iteration in range(self.start, self.stop):
            positions = stream_positions(iteration, self.batch_size, self.world_size, self.rank)
            yield [(self._index(p), self.seed * SEED_STRIDE + p) for p in positions]


class SeededSamples(Dataset):
    """Wraps a dataset of (image, mask): item (index, seed) applies `transform` under torch RNG seeded with `seed`."""

    def __init__(self, dataset: Dataset, transform: Callable | None):
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, seed = key
        image, mask = self.dataset[index]
        if self.transform is None:
            return image, mask
        # A private RNG stream per sample: the model's dropout RNG is left untouched in this process.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transform(image, mask)


def resize_pair(image: torch.Tensor, mask: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize a C×H×W image (bilinear, antialiased) and its H×W mask (nearest) to size×size."""
    if tuple(image.shape[-2:]) == (size, size):
        return image, mask
    image = resize_images(image[None].float(), (size, size))[0]
    mask = F.interpolate(mask[None, None].float(), size=(size, size), mode="nearest-exact")[0, 0].to(mask.dtype)
    return image, mask


class CachedPairs(Dataset):
    """(image, mask) pairs decoded once and kept in memory as uint8; images (and optionally masks) resized once."""

    def __init__(self, pairs: Sequence[tuple[Path, Path]], image_size: int | None = None, resize_masks: bool = True,
                 progress: bool = False, desc: str = "load"):
        from tqdm.auto import tqdm

        self.images: list[torch.Tensor] = []
        self.masks: list[torch.Tensor] = []
        for image_path, mask_path in tqdm(pairs, desc=desc, unit="img", disable=not progress, leave=False):
            image, mask = read_pair(image_path, mask_path)
            image_t = torch.from_numpy(image).permute(2, 0, 1)
            mask_t = torch.from_numpy(mask)
            if image_size is not None:
                resized, resized_mask = resize_pair(image_t.float(), mask_t, image_size)
                image_t = resized.round_().clamp_(0, 255).to(torch.uint8)
                if resize_masks:
                    mask_t = resized_mask
            self.images.append(image_t.contiguous())
            self.masks.append(mask_t.contiguous())

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index].float().div_(255), self.masks[index].long()


class ResizedPairs(Dataset):
    """A dataset of (image, mask) with every pair resized to size×size on the fly (for uncached training)."""

    def __init__(self, dataset: Dataset, size: int):
        self.dataset, self.size = dataset, size

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return resize_pair(*self.dataset[index], self.size)
