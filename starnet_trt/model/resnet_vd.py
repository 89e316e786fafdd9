"""ResNet34_vd recognition backbone (PaddleOCR v2.0 ``rec_resnet_vd.py``): height /32, width /4."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .layers import ConvBN


class ConvBNVd(nn.Module):
    """Paddle's vd ConvBNLayer: in vd mode an average pool does the striding, then a stride-1 conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride=1, vd_mode: bool = False, act=None):
        super().__init__()
        stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
        self.pool = nn.AvgPool2d(stride, stride, ceil_mode=True) if vd_mode else None
        self.conv = ConvBN(in_channels, out_channels, kernel, (1, 1) if vd_mode else stride, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        return self.conv(x)


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride, shortcut: bool, if_first: bool) -> None:
        super().__init__()
        self.conv0 = ConvBNVd(in_channels, out_channels, 3, stride, act="relu")
        self.conv1 = ConvBNVd(out_channels, out_channels, 3)
        self.short = (
            None
            if shortcut
            else ConvBNVd(in_channels, out_channels, 1, stride, vd_mode=not if_first and stride[0] != 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.conv0(x))
        short = x if self.short is None else self.short(x)
        return F.relu(short + y)


class ResNetVd(nn.Module):
    """ResNet34_vd for recognition: ``[N,3,32,W] -> [N,512,1,W/4]``."""

    def __init__(self, in_channels: int = 3, depth: tuple[int, ...] = (3, 4, 6, 3)) -> None:
        super().__init__()
        self.conv1_1 = ConvBNVd(in_channels, 32, 3, act="relu")
        self.conv1_2 = ConvBNVd(32, 32, 3, act="relu")
        self.conv1_3 = ConvBNVd(32, 64, 3, act="relu")
        num_channels = (64, 64, 128, 256)
        num_filters = (64, 128, 256, 512)
        blocks = []
        for b, n in enumerate(depth):
            shortcut = False
            for i in range(n):
                stride = (2, 1) if i == 0 and b != 0 else (1, 1)
                in_ch = num_channels[b] if i == 0 else num_filters[b]
                blocks.append(BasicBlock(in_ch, num_filters[b], stride, shortcut, if_first=(b == 0 and i == 0)))
                shortcut = True
        self.blocks = nn.Sequential(*blocks)
        self.depth = tuple(depth)
        self.out_channels = num_filters[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1_3(self.conv1_2(self.conv1_1(x)))
        x = F.max_pool2d(x, 3, 2, 1)
        x = self.blocks(x)
        return F.max_pool2d(x, 2, 2)
