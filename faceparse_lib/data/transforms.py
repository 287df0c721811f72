"""Joint image/mask transforms: the report's training augmentation and evaluation pre-processing.

Built on `torchvision.transforms.v2` with `tv_tensors.Image`/`Mask`: torchvision resizes masks with nearest,
crops and pads both alike and leaves masks out of photometric ops. What it lacks is written here, following
mmsegmentation's `RandomResize`, `RandomCrop(cat_max_ratio)` and `PhotoMetricDistortion`: a flip that swaps
left/right classes, the class-ratio crop, mmseg's colour steps and padding to a size.

Every random draw comes from torch's global RNG (no `random`, no numpy), so `torch.manual_seed(s)` before a call
reproduces it exactly: the training engine seeds each sample that way for exact resume.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from faceparse_lib.classes import IGNORE_INDEX, flip_permutation
from faceparse_lib.standalone.inference import normalise

# ImageNet statistics, as the pretrained encoders (and mmsegmentation's data preprocessor) expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Class-index lookup table swapping every FLIP_PAIRS pair (256 entries: any uint8 label, 255 included).
_SWAP_TABLE = torch.from_numpy(flip_permutation().astype("int64"))

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "normalize", "swap_left_right", "hflip", "scale_saturation",
    "RandomResize", "CatMaxRatioCrop", "RandomHFlip", "PhotoMetricDistortion", "PadTo", "Normalize",
    "JointCompose", "train_transform", "eval_transform",
]


def normalize(image: torch.Tensor) -> torch.Tensor:
    """ImageNet-normalise a float image in [0, 1], C×H×W or N×C×H×W."""
    return normalise(image, IMAGENET_MEAN, IMAGENET_STD)


def swap_left_right(mask: torch.Tensor) -> torch.Tensor:
    """A mask with every left/right class pair (FLIP_PAIRS) swapped, pixels unmoved (labels must lie in 0..255)."""
    table = _SWAP_TABLE.to(mask.device)
    return table[mask.long()].to(mask.dtype)


def hflip(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror image and mask left to right and swap the left/right classes, so a left eye stays a left eye."""
    return image.flip(-1), swap_left_right(mask.flip(-1))


def scale_saturation(image: torch.Tensor, factor: float) -> torch.Tensor:
    """Multiply HSV saturation of a float RGB image in [0, 1] by `factor`, clipping it at 1; hue and value kept."""
    # In HSV every channel is V - S·V·k(H), so scaling S moves each channel away from (or towards) the pixel's max
    # along a straight line; S·factor > 1 is clipped by capping the factor where the smallest channel reaches 0.
    vmax = image.amax(dim=-3, keepdim=True)
    spread = vmax - image.amin(dim=-3, keepdim=True)
    limit = torch.where(spread > 0, vmax / spread.clamp_min(1e-12), torch.full_like(vmax, float("inf")))
    scale = limit.clamp(max=factor)
    return (vmax + scale * (image - vmax)).clamp_(0.0, 1.0)


def _find_mask(flat_inputs: list[Any]) -> tv_tensors.Mask | None:
    """The first Mask among a transform's inputs, if any."""
    return next((x for x in flat_inputs if isinstance(x, tv_tensors.Mask)), None)


class RandomResize(v2.Transform):
    """Resize by a ratio r ~ U[lo, hi), keeping the aspect ratio: bilinear (antialiased) image, nearest mask.

    `base_size=None`: each side becomes int(side·r). `base_size=B`: mmseg's scale (4B, B)·r with keep_ratio,
    so a B×B image becomes int(B·r)×int(B·r), whatever size it came in at (the report: B = 512).
    """

    def __init__(self, ratio_range: tuple[float, float] = (0.5, 2.0), base_size: int | None = None) -> None:
        super().__init__()
        lo, hi = ratio_range
        if not 0 < lo <= hi:
            raise ValueError(f"ratio_range must satisfy 0 < low <= high, got {ratio_range}")
        self.ratio_range, self.base_size = (float(lo), float(hi)), base_size

    def target_size(self, height: int, width: int, ratio: float) -> tuple[int, int]:
        """The (height, width) an image of this size is resized to at ratio `ratio`."""
        if self.base_size is None:
            return max(1, int(height * ratio)), max(1, int(width * ratio))
        long_edge, short_edge = int(4 * self.base_size * ratio), int(self.base_size * ratio)
        factor = min(long_edge / max(height, width), short_edge / min(height, width))
        return max(1, int(height * factor + 0.5)), max(1, int(width * factor + 0.5))  # mmcv rounds here

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        lo, hi = self.ratio_range
        ratio = lo + (hi - lo) * torch.rand(()).item()
        return {"size": self.target_size(*v2.query_size(flat_inputs), ratio)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if tuple(inpt.shape[-2:]) == params["size"]:
            return inpt
        # torchvision resizes a Mask with nearest whatever interpolation is asked for.
        return F.resize(inpt, list(params["size"]), interpolation=v2.InterpolationMode.BILINEAR, antialias=True)


class CatMaxRatioCrop(v2.Transform):
    """Random size×size crop where no class fills `cat_max_ratio` or more of the crop's labelled pixels.

    mmseg's `RandomCrop`: a crop is accepted when, ignoring `ignore_index`, more than one class is present and
    the largest holds < cat_max_ratio of the pixels; after `tries` rejected crops one more is drawn and used
    unchecked. An input smaller than the crop is kept whole along that side (pad it afterwards with `PadTo`).
    """

    def __init__(self, size: int, cat_max_ratio: float = 0.75, ignore_index: int = IGNORE_INDEX, tries: int = 10):
        super().__init__()
        if ignore_index < 0:
            raise ValueError(f"ignore_index must be a non-negative label, got {ignore_index}")
        self.size, self.cat_max_ratio, self.ignore_index, self.tries = size, cat_max_ratio, ignore_index, tries

    def draw_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """A uniformly random (top, left, height, width) crop box inside a height×width input."""
        top = int(torch.randint(0, max(height - self.size, 0) + 1, ()))
        left = int(torch.randint(0, max(width - self.size, 0) + 1, ()))
        return top, left, min(self.size, height), min(self.size, width)

    def accepts(self, crop: torch.Tensor) -> bool:
        """Whether a cropped mask has more than one class and none with cat_max_ratio or more of its pixels."""
        counts = torch.bincount(crop.reshape(-1).long(), minlength=self.ignore_index + 1)
        counts[self.ignore_index] = 0
        counts = counts[counts > 0]
        return counts.numel() > 1 and counts.max().item() < self.cat_max_ratio * counts.sum().item()

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        box = self.draw_box(height, width)
        mask = _find_mask(flat_inputs)
        if mask is not None and self.cat_max_ratio < 1.0:
            for _ in range(self.tries):
                top, left, h, w = box
                if self.accepts(mask[..., top:top + h, left:left + w]):
                    break
                box = self.draw_box(height, width)
        return {"box": box}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return F.crop(inpt, *params["box"])


class RandomHFlip(v2.Transform):
    """With probability p, mirror image and mask and swap the left/right classes in the mask (see `hflip`)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"flip": torch.rand(()).item() < self.p}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not params["flip"]:
            return inpt
        flipped = F.horizontal_flip(inpt)
        if isinstance(inpt, tv_tensors.Mask):
            return tv_tensors.wrap(swap_left_right(flipped.as_subclass(torch.Tensor)), like=inpt)
        return flipped


class PhotoMetricDistortion(v2.Transform):
    """mmseg's colour jitter, each step with p = 0.5: brightness, contrast (before or after HSV), saturation, hue.

    Deltas are given in mmseg's uint8 units and applied to the float [0, 1] image in [0, 1] units (brightness
    ± 32/255; hue ± 18 OpenCV units of 2°, i.e. 18/180 of a full turn), clipping to [0, 1] after every step.
    Contrast is mmseg's plain multiply, saturation scales HSV S. Unlike mmseg, values are not rounded to uint8
    between steps. As in mmseg (numpy's randint), the hue delta is an integer in [-18, 18).
    """

    _transformed_types = (tv_tensors.Image,)

    def __init__(
        self,
        brightness_delta: int = 32,
        contrast_range: tuple[float, float] = (0.5, 1.5),
        saturation_range: tuple[float, float] = (0.5, 1.5),
        hue_delta: int = 18,
    ) -> None:
        super().__init__()
        self.brightness_delta, self.hue_delta = brightness_delta, hue_delta
        self.contrast_range, self.saturation_range = contrast_range, saturation_range

    @staticmethod
    def _coin() -> bool:
        return bool(torch.randint(0, 2, ()).item())

    @staticmethod
    def _uniform(lo: float, hi: float) -> float:
        return lo + (hi - lo) * torch.rand(()).item()

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        # Same draw order as mmseg: brightness, contrast position, contrast (first), saturation, hue, contrast (last).
        params: dict[str, Any] = {"brightness": None, "contrast": None, "saturation": None, "hue": None}
        if self._coin():
            params["brightness"] = self._uniform(-self.brightness_delta, self.brightness_delta) / 255.0
        params["contrast_first"] = self._coin()
        if params["contrast_first"] and self._coin():
            params["contrast"] = self._uniform(*self.contrast_range)
        if self._coin():
            params["saturation"] = self._uniform(*self.saturation_range)
        if self._coin():
            params["hue"] = int(torch.randint(-self.hue_delta, self.hue_delta, ()).item()) / 180.0
        if not params["contrast_first"] and self._coin():
            params["contrast"] = self._uniform(*self.contrast_range)
        return params

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        image = inpt.as_subclass(torch.Tensor)
        if params["brightness"] is not None:
            image = (image + params["brightness"]).clamp_(0.0, 1.0)
        if params["contrast_first"] and params["contrast"] is not None:
            image = (image * params["contrast"]).clamp_(0.0, 1.0)
        if params["saturation"] is not None:
            image = scale_saturation(image, params["saturation"])
        if params["hue"] is not None:
            image = F.adjust_hue(image, params["hue"])
        if not params["contrast_first"] and params["contrast"] is not None:
            image = (image * params["contrast"]).clamp_(0.0, 1.0)
        return tv_tensors.wrap(image, like=inpt)


class PadTo(v2.Transform):
    """Pad right and bottom up to size×size: the image with `fill_image`, the mask with `fill_mask` (ignore)."""

    def __init__(self, size: int, fill_image: float = 0.0, fill_mask: int = IGNORE_INDEX) -> None:
        super().__init__()
        self.size, self.fill_image, self.fill_mask = size, fill_image, fill_mask

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        return {"padding": [0, 0, max(self.size - width, 0), max(self.size - height, 0)]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not any(params["padding"]):
            return inpt
        fill = self.fill_mask if isinstance(inpt, tv_tensors.Mask) else self.fill_image
        return F.pad(inpt, params["padding"], fill=fill)


class Normalize(v2.Normalize):
    """ImageNet normalisation as a v2 transform (the same arithmetic as `normalize`; masks pass through)."""

    def __init__(self) -> None:
        super().__init__(mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD))


class JointCompose:
    """A v2 pipeline called as `transform(image, mask) -> (image, mask)` on plain tensors.

    Takes what FaceParsingDataset yields (float C×H×W image in [0, 1], int64 H×W mask) and returns plain tensors.
    """

    def __init__(self, transforms: Sequence[v2.Transform]) -> None:
        self.transforms = list(transforms)
        self.pipeline = v2.Compose(self.transforms)

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.pipeline(tv_tensors.Image(image), tv_tensors.Mask(mask))
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"JointCompose([{inner}\n])"


class RandomRotate(v2.Transform):
    """Rotate by an angle ~ U(-degrees, degrees) about the centre: bilinear image (corners 0), nearest mask (corners 255)."""

    def __init__(self, degrees: float, fill_mask: int = IGNORE_INDEX) -> None:
        super().__init__()
        self.degrees, self.fill_mask = degrees, fill_mask

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"angle": float(torch.empty(()).uniform_(-self.degrees, self.degrees))}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, tv_tensors.Mask):  # corners the rotation brings in are not labelled: ignore them
            return F.rotate(inpt, params["angle"], interpolation=v2.InterpolationMode.NEAREST, fill=self.fill_mask)
        return F.rotate(inpt, params["angle"], interpolation=v2.InterpolationMode.BILINEAR, fill=0.0)


def train_transform(
    crop_size: int = 512,
    ratio_range: tuple[float, float] | None = (0.5, 2.0),
    cat_max_ratio: float = 0.75,
    flip_p: float = 0.5,
    photometric: bool = True,
    base_size: int | None = None,
    rotate_degrees: float = 0.0,
) -> JointCompose:
    """The report's training augmentation, in mmseg's order; returns normalised crop_size² image and mask.

    Random resize → (a small rotation, corners ignored, when `rotate_degrees` > 0) → class-ratio crop →
    left/right-swapping flip → photometric distortion → ImageNet normalisation → pad to crop_size (image 0,
    mask 255). `ratio_range=None` skips the resize.
    """
    steps: list[v2.Transform] = []
    if ratio_range is not None:
        steps.append(RandomResize(ratio_range, base_size=base_size))
    if rotate_degrees > 0:
        steps.append(RandomRotate(rotate_degrees))
    steps.append(CatMaxRatioCrop(crop_size, cat_max_ratio=cat_max_ratio))
    if flip_p > 0:
        steps.append(RandomHFlip(flip_p))
    if photometric:
        steps.append(PhotoMetricDistortion())
    steps += [Normalize(), PadTo(crop_size)]
    return JointCompose(steps)


def eval_transform() -> JointCompose:
    """Evaluation pre-processing: ImageNet normalisation only (sizes untouched)."""
    return JointCompose([Normalize()])
