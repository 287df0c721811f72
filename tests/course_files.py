"""Tiny course-layout samples written for tests: image + mask pairs under ROOT/SPLIT/{images,masks}."""

import numpy as np
from PIL import Image

SIZE = 16


def write_sample(root, split, stem, label=1, size=(SIZE, SIZE), mask_size=None, image_mode="RGB"):
    """One image + mask pair in the course layout; the mask holds `label` on its left half."""
    (root / split / "images").mkdir(parents=True, exist_ok=True)
    (root / split / "masks").mkdir(parents=True, exist_ok=True)
    w, h = size
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).convert(image_mode)
    image.save(root / split / "images" / f"{stem}.{'jpg' if image_mode in ('RGB', 'L') else 'png'}")
    mw, mh = mask_size or size
    mask = np.zeros((mh, mw), dtype=np.uint8)
    mask[:, : mw // 2] = label
    Image.fromarray(mask, "L").save(root / split / "masks" / f"{stem}.png")


def write_good_set(root):
    """Four train pairs (labels 1..4) and one val pair (label 18): a small set with nothing wrong."""
    for i in range(4):
        write_sample(root, "train", f"{i:05d}", label=i + 1)
    write_sample(root, "val", "00010", label=18)
    return root
