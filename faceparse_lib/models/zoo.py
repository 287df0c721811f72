"""Segmentation models by name (the registry behind `build_model`): the seed DeepLabV3+, any smp model, a CPU demo model."""

from __future__ import annotations

import logging
from typing import Callable

import segmentation_models_pytorch as smp
import timm
import torch
from torch import nn

from faceparse_lib.classes import NUM_CLASSES
from faceparse_lib.models.deeplab import deeplabv3plus_r50
from faceparse_lib.models.names import CHALLENGE_MODEL, DEMO_MODEL, SEED_MODEL
from faceparse_lib.standalone.inference import padded_logits
from faceparse_lib.standalone.srresnet import SRRESNET_ARCH, SRResNetSegmenter

log = logging.getLogger(__name__)

SMP_PREFIX = "smp:"

def count_parameters(model: nn.Module) -> int:
    """Number of parameters of `model` (every parameter, trainable or not; shared ones once)."""
    return sum(p.numel() for p in model.parameters())


def check_parameter_budget(model: nn.Module, max_params: int, name: str = "model") -> int:
    """The parameter count of `model`; raises ValueError unless it is fewer than `max_params` (the course's rule)."""
    count = count_parameters(model)
    if count >= max_params:
        raise ValueError(f"{name}: {count:,} parameters; fewer than {max_params:,} are allowed "
                         f"(over by {count - max_params + 1:,})")
    return count


def model_summary(model: nn.Module, name: str) -> str:
    """One line: name, parameter count and output stride."""
    stride = getattr(model, "output_stride", None)
    return f"{name}  {count_parameters(model):,} parameters  output stride {stride if stride else '?'}"


class SmpSegmenter(nn.Module):
    """An smp model (or the standalone SRResNet) returning {"out": logits at the input size} for any input size (pads,
    then crops)."""

    def __init__(self, model: smp.base.SegmentationModel | SRResNetSegmenter, spec: dict | None = None):
        super().__init__()
        self.model = model
        # How run.py builds it again ({"arch", "encoder", "classes", "kwargs"}), for code that runs without the kit.
        self.smp_spec = spec
        self.output_stride = getattr(model, "output_stride", None) or model.encoder.output_stride
        # Older smp releases lack the attribute; padding is then always safe.
        self.size_divisor = self.output_stride if getattr(model, "requires_divisible_input_shape", True) else 1

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"out": logits N×C×H×W}; the input is zero-padded bottom/right to what the model accepts."""
        return {"out": padded_logits(self.model, x, self.size_divisor)}


def smp_model(arch: str, encoder: str, num_classes: int = NUM_CLASSES, pretrained: bool = False, **kwargs) -> SmpSegmenter:
    """Any smp architecture on any smp (or "tu-" timm) encoder, wrapped to return the output dict."""
    archs = smp.MODEL_ARCHITECTURES_MAPPING
    if arch.lower() not in archs:
        raise ValueError(f"unknown smp architecture {arch!r}; choose from {', '.join(a.__name__ for a in archs.values())}")
    if encoder.startswith("tu-"):
        if not timm.is_model(encoder[3:]):
            raise ValueError(f"unknown timm encoder {encoder!r}; see timm.list_models() for names to put after 'tu-'")
        weights = True if pretrained else None
    else:
        if encoder not in smp.encoders.get_encoder_names():
            raise ValueError(f"unknown smp encoder {encoder!r}; see smp.encoders.get_encoder_names() or use 'tu-<timm name>'")
        weights = "imagenet" if pretrained else None
    model = smp.create_model(arch, encoder_name=encoder, encoder_weights=weights, classes=num_classes, **kwargs)
    return SmpSegmenter(model, {"arch": arch, "encoder": encoder, "classes": num_classes, "kwargs": kwargs})


def unet_lcnet050(num_classes: int = NUM_CLASSES, pretrained: bool = False, **kwargs) -> SmpSegmenter:
    """Small fast CPU demo model: smp Unet on timm's LCNet-0.5 with a slim decoder (well under the budget)."""
    kwargs.setdefault("decoder_channels", (64, 32, 24, 16, 8))
    return smp_model("Unet", "tu-lcnet_050", num_classes, pretrained=pretrained, **kwargs)


def unet_mnv3s(num_classes: int = NUM_CLASSES, pretrained: bool = False, **kwargs) -> SmpSegmenter:
    """Challenge model: smp Unet on timm's MobileNetV3-Small with a slim decoder, 1,712,323 parameters (under the cap)."""
    kwargs.setdefault("decoder_channels", (96, 64, 32, 24, 16))
    return smp_model("Unet", "tu-mobilenetv3_small_100", num_classes, pretrained=pretrained, **kwargs)


def deeplabv3plus_lcnet100(num_classes: int = NUM_CLASSES, pretrained: bool = False, **kwargs) -> SmpSegmenter:
    """Challenge model: smp DeepLabV3+ (ASPP, stride-4 skip) on timm's LCNet-1.0, 1,488,899 parameters."""
    kwargs.setdefault("decoder_channels", 128)
    return smp_model("DeepLabV3Plus", "tu-lcnet_100", num_classes, pretrained=pretrained, **kwargs)


def srresnet_seg(num_classes: int = NUM_CLASSES, pretrained: bool = False, **kwargs) -> SmpSegmenter:
    """The course's baseline, SRResNet (BasicSR's MSRResNet ×4, 1,517,571 parameters), adapted to parse faces:
    pixel-unshuffled input, 19 logits out, 1,552,723 parameters (standalone/srresnet.py states the adaptation)."""
    if pretrained:
        raise ValueError("srresnet_seg has no pretrained weights (the course's baseline trains from scratch)")
    return SmpSegmenter(SRResNetSegmenter(num_classes, **kwargs),
                        {"arch": SRRESNET_ARCH, "encoder": None, "classes": num_classes, "kwargs": kwargs})


MODELS: dict[str, Callable[..., nn.Module]] = {
    SEED_MODEL: deeplabv3plus_r50,
    DEMO_MODEL: unet_lcnet050,
    CHALLENGE_MODEL: unet_mnv3s,
    "deeplabv3plus_lcnet100": deeplabv3plus_lcnet100,
    "srresnet_seg": srresnet_seg,
}


def model_names() -> list[str]:
    """Registered model names (any "smp:ARCH:ENCODER" is accepted besides these)."""
    return sorted(MODELS)


def build_model(name: str = SEED_MODEL, num_classes: int = NUM_CLASSES, pretrained: bool = False, **kwargs) -> nn.Module:
    """A model by registered name or "smp:ARCH:ENCODER"; forward returns {"out": logits[, "aux"]}."""
    if name.startswith(SMP_PREFIX):
        parts = name[len(SMP_PREFIX):].split(":")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"{name!r}: expected 'smp:ARCH:ENCODER', e.g. 'smp:Unet:resnet34'")
        model = smp_model(*parts, num_classes=num_classes, pretrained=pretrained, **kwargs)
    elif name in MODELS:
        model = MODELS[name](num_classes=num_classes, pretrained=pretrained, **kwargs)
    else:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(model_names())} or 'smp:ARCH:ENCODER'")
    log.info("built %s", model_summary(model, name))
    return model
