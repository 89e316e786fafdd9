"""Building blocks shared by the backbones and the TPS localization network.

Paddle's ``nn.BatchNorm`` uses epsilon 1e-5 and momentum 0.9 (running = 0.9 * running + 0.1 * batch), which
is PyTorch's ``momentum=0.1``; we keep PyTorch's defaults because they are the same numbers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """PaddleOCR v2.0 SE gate: ``clip(0.2 * x + 0.5, 0, 1)`` (slope 0.2, not PyTorch's 1/6)."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


def activation(name: str | None) -> nn.Module:
    if name is None:
        return nn.Identity()
    if name == "relu":
        return nn.ReLU()
    if name == "hardswish":
        return nn.Hardswish()
    raise ValueError(f"unknown activation {name!r}")


class ConvBN(nn.Module):
    """Conv (no bias) + BatchNorm + optional activation; attribute names follow the Paddle layer's."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int | tuple[int, int] = 1,
        padding: int | None = None,
        groups: int = 1,
        act: str | None = None,
    ) -> None:
        super().__init__()
        if padding is None:
            padding = (kernel_size - 1) // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-5, momentum=0.1)
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def relu(x: torch.Tensor) -> torch.Tensor:
    return F.relu(x)
