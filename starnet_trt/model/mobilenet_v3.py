"""MobileNetV3 recognition backbone (PaddleOCR v2.0 ``rec_mobilenet_v3.py``): height /32, width /4."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .layers import ConvBN, hard_sigmoid

# k, expansion, out channels, squeeze-excite, activation, stride (height stride only after the first block)
_LARGE = [
    (3, 16, 16, False, "relu", 1),
    (3, 64, 24, False, "relu", (2, 1)),
    (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", (2, 1)),
    (5, 120, 40, True, "relu", 1),
    (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hardswish", 1),
    (3, 200, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 480, 112, True, "hardswish", 1),
    (3, 672, 112, True, "hardswish", 1),
    (5, 672, 160, True, "hardswish", (2, 1)),
    (5, 960, 160, True, "hardswish", 1),
    (5, 960, 160, True, "hardswish", 1),
]
_LARGE_SQUEEZE = 960


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class SEModule(nn.Module):
    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels // reduction, 1)
        self.conv2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        s = hard_sigmoid(self.conv2(F.relu(self.conv1(s))))
        return x * s


class ResidualUnit(nn.Module):
    def __init__(
        self, in_channels: int, mid_channels: int, out_channels: int, kernel: int, stride, use_se: bool, act: str
    ) -> None:
        super().__init__()
        self.shortcut = stride == 1 and in_channels == out_channels
        self.expand_conv = ConvBN(in_channels, mid_channels, 1, act=act)
        self.bottleneck_conv = ConvBN(mid_channels, mid_channels, kernel, stride, groups=mid_channels, act=act)
        self.mid_se = SEModule(mid_channels) if use_se else None
        self.linear_conv = ConvBN(mid_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bottleneck_conv(self.expand_conv(x))
        if self.mid_se is not None:
            y = self.mid_se(y)
        y = self.linear_conv(y)
        return x + y if self.shortcut else y


class MobileNetV3(nn.Module):
    """MobileNetV3-large at ``scale`` (0.5 for STAR-Net): ``[N,3,32,W] -> [N,480,1,W/4]``."""

    def __init__(self, in_channels: int = 3, scale: float = 0.5) -> None:
        super().__init__()
        inplanes = make_divisible(16 * scale)
        self.conv1 = ConvBN(in_channels, inplanes, 3, stride=2, padding=1, act="hardswish")
        blocks = []
        for k, exp, c, se, act, s in _LARGE:
            out = make_divisible(scale * c)
            blocks.append(ResidualUnit(inplanes, make_divisible(scale * exp), out, k, s, se, act))
            inplanes = out
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = make_divisible(scale * _LARGE_SQUEEZE)
        self.conv2 = ConvBN(inplanes, self.out_channels, 1, padding=0, act="hardswish")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.blocks(self.conv1(x)))
        return F.max_pool2d(x, 2, 2)
