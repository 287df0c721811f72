"""The course's baseline network, SRResNet (BasicSR's MSRResNet ×4: 16 residual blocks of 64 channels, 1,517,571
parameters), adapted to parse faces. Plain torch, so a hand-in's run.py rebuilds it without the kit.

The adaptation, stated: the image is pixel-unshuffled by 4 (3 channels at H×W become 48 at H/4×W/4), the body runs
there unchanged, its two ×2 pixel-shuffle stages bring it back to H×W, and the last convolution gives one logit per
class instead of 3 colours (BasicSR's bilinear skip of the input image, an RGB residual, is dropped). The
unshuffle is what makes a 512² face affordable: the body would otherwise run at full size and then upsample ×4.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

SCALE = 4  # the ×4 of MSRResNet_x4, undone on the way in by the pixel-unshuffle
SRRESNET_ARCH = "SRResNet"  # its "arch" in a checkpoint's model spec, where smp models name theirs


def init_like_basicsr(*convs: nn.Conv2d, scale: float = 0.1) -> None:
    """BasicSR's default_init_weights: Kaiming-normal weights times `scale`, zero biases, which keeps a deep residual
    stack with no normalisation near the identity at the start."""
    for conv in convs:
        nn.init.kaiming_normal_(conv.weight)
        conv.weight.data.mul_(scale)
        nn.init.zeros_(conv.bias)


class ResidualBlockNoBN(nn.Module):
    """BasicSR's block: conv 3×3, ReLU, conv 3×3, added to the input."""

    def __init__(self, channels: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        init_like_basicsr(self.conv1, self.conv2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x), inplace=True))


class SRResNetSegmenter(nn.Module):
    """MSRResNet ×4 with `in_scale`×`in_scale` pixel-unshuffle in front and `classes` outputs: logits N×classes×H×W.

    `in_scale=1, classes=3` is BasicSR's MSRResNet_x4 layer for layer (without its input skip): 1,517,571 parameters.
    """

    requires_divisible_input_shape = True

    def __init__(self, classes: int = 19, channels: int = 64, blocks: int = 16, in_scale: int = SCALE):
        super().__init__()
        self.in_scale = in_scale
        self.output_stride = in_scale  # the input's sides must divide by it
        self.conv_first = nn.Conv2d(3 * in_scale**2, channels, 3, padding=1)
        self.body = nn.Sequential(*(ResidualBlockNoBN(channels) for _ in range(blocks)))
        self.upconv1 = nn.Conv2d(channels, channels * 4, 3, padding=1)
        self.upconv2 = nn.Conv2d(channels, channels * 4, 3, padding=1)
        self.conv_hr = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_last = nn.Conv2d(channels, classes, 3, padding=1)
        init_like_basicsr(self.conv_first, self.upconv1, self.upconv2, self.conv_hr, self.conv_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_scale > 1:
            x = F.pixel_unshuffle(x, self.in_scale)
        feat = F.leaky_relu(self.conv_first(x), 0.1, inplace=True)
        out = self.body(feat)
        out = F.leaky_relu(F.pixel_shuffle(self.upconv1(out), 2), 0.1, inplace=True)
        out = F.leaky_relu(F.pixel_shuffle(self.upconv2(out), 2), 0.1, inplace=True)
        return self.conv_last(F.leaky_relu(self.conv_hr(out), 0.1, inplace=True))
