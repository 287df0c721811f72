"""The seed report's DeepLabV3+: ResNet-50-V1c at output stride 8, mmseg's separable ASPP head, an FCN auxiliary head."""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
from torch import nn

from faceparse_lib.classes import NUM_CLASSES
from faceparse_lib.standalone.inference import resize_bilinear

# Positions in an smp encoder's feature list (index 0 is the input itself).
LOW_LEVEL_FEATURES = 2  # stride 4 (256 channels on ResNet-50)


# --- building blocks (mmsegmentation's ConvModule semantics: a conv before a BN has no bias) ---


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1, groups: int = 1) -> nn.Sequential:
    """Bias-free conv (same padding), BatchNorm, ReLU."""
    padding = dilation * (kernel_size - 1) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def depthwise_separable_conv(in_channels: int, out_channels: int, dilation: int = 1) -> nn.Sequential:
    """Depthwise 3×3 conv-BN-ReLU then pointwise 1×1 conv-BN-ReLU (mmseg's DepthwiseSeparableConvModule)."""
    return nn.Sequential(
        conv_bn_relu(in_channels, in_channels, 3, dilation=dilation, groups=in_channels),
        conv_bn_relu(in_channels, out_channels, 1),
    )


def classifier(in_channels: int, num_classes: int, dropout: float) -> nn.Sequential:
    """Dropout2d then a 1×1 conv with bias: mmseg's `cls_seg`."""
    conv = nn.Conv2d(in_channels, num_classes, 1)
    nn.init.normal_(conv.weight, std=0.01)  # mmseg's init for the classifier
    nn.init.zeros_(conv.bias)
    return nn.Sequential(nn.Dropout2d(dropout), conv)


class ImagePooling(nn.Module):
    """ASPP image-level branch: global average pool, 1×1 conv-BN-ReLU, broadcast back to the feature size."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = conv_bn_relu(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return resize_bilinear(self.conv(self.pool(x)), x.shape[-2:])


class DepthwiseSeparableASPPHead(nn.Module):
    """DeepLabV3+ decoder as mmseg's DepthwiseSeparableASPPHead: separable ASPP, low-level fusion, classifier."""

    def __init__(
        self,
        in_channels: int = 2048,
        low_level_channels: int = 256,
        num_classes: int = NUM_CLASSES,
        channels: int = 512,
        low_level_projection: int = 48,
        rates: tuple[int, ...] = (12, 24, 36),
        dropout: float = 0.1,
    ):
        super().__init__()
        self.image_pool = ImagePooling(in_channels, channels)
        self.aspp = nn.ModuleList(
            [conv_bn_relu(in_channels, channels, 1)]
            + [depthwise_separable_conv(in_channels, channels, dilation=rate) for rate in rates]
        )
        # A plain (not separable) 3×3 conv over the concatenation, as in mmseg's ASPPHead.
        self.bottleneck = conv_bn_relu((len(rates) + 2) * channels, channels, 3)
        self.low_level = conv_bn_relu(low_level_channels, low_level_projection, 1)
        self.fuse = nn.Sequential(
            depthwise_separable_conv(channels + low_level_projection, channels),
            depthwise_separable_conv(channels, channels),
        )
        self.classifier = classifier(channels, num_classes, dropout)

    def forward(self, high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        """Logits at the resolution of the low-level features (stride 4)."""
        x = torch.cat([self.image_pool(high), *(branch(high) for branch in self.aspp)], dim=1)
        x = self.bottleneck(x)
        low = self.low_level(low)
        # mmsegmentation's order (ASPP output first): checkpoints move between the two only with this order.
        x = torch.cat([resize_bilinear(x, low.shape[-2:]), low], dim=1)
        return self.classifier(self.fuse(x))


def fcn_head(in_channels: int = 1024, num_classes: int = NUM_CLASSES, channels: int = 256, dropout: float = 0.1) -> nn.Sequential:
    """mmseg's FCNHead with one conv and no input concatenation: 3×3 conv-BN-ReLU, dropout, 1×1 classifier."""
    return nn.Sequential(conv_bn_relu(in_channels, channels, 3), classifier(channels, num_classes, dropout))


def init_head_convs(module: nn.Module) -> None:
    """Kaiming-normal (fan_out, ReLU) for the head convs before a BN, as mmseg's ConvModule; BN to 1/0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d) and m.bias is None:
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class DeepLabV3PlusASPP(nn.Module):
    """The report's DeepLabV3+: smp encoder, depthwise-separable ASPP decode head, optional FCN auxiliary head."""

    def __init__(
        self,
        encoder_name: str = "tu-resnet50c",
        num_classes: int = NUM_CLASSES,
        pretrained: bool = False,
        output_stride: int = 8,
        aux_head: bool = True,
        dropout: float = 0.1,
    ):
        super().__init__()
        # smp wants True for timm ("tu-") encoders, a weights name for its own.
        weights = (True if encoder_name.startswith("tu-") else "imagenet") if pretrained else None
        self.encoder = smp.encoders.get_encoder(encoder_name, weights=weights, output_stride=output_stride, depth=5)
        self.output_stride = output_stride
        channels = self.encoder.out_channels
        self.decode_head = DepthwiseSeparableASPPHead(
            channels[-1], channels[LOW_LEVEL_FEATURES], num_classes, dropout=dropout
        )
        # The auxiliary head reads the last-but-one stage (stride 8, 1024 channels on ResNet-50).
        self.auxiliary_head = fcn_head(channels[-2], num_classes, dropout=dropout) if aux_head else None
        init_head_convs(self.decode_head)
        if self.auxiliary_head is not None:
            init_head_convs(self.auxiliary_head)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"out": logits at the input size} plus {"aux": auxiliary logits, same size} in training mode."""
        size = x.shape[-2:]
        features = self.encoder(x)
        result = {"out": resize_bilinear(self.decode_head(features[-1], features[LOW_LEVEL_FEATURES]), size)}
        if self.training and self.auxiliary_head is not None:
            result["aux"] = resize_bilinear(self.auxiliary_head(features[-2]), size)
        return result


def deeplabv3plus_r50(num_classes: int = NUM_CLASSES, pretrained: bool = False, **kwargs) -> DeepLabV3PlusASPP:
    """The seed report's model: ResNet-50-V1c at output stride 8, separable ASPP head, FCN auxiliary head."""
    return DeepLabV3PlusASPP("tu-resnet50c", num_classes, pretrained=pretrained, **kwargs)
