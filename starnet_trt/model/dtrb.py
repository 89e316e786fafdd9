"""DTRB's "TPS-ResNet-BiLSTM-CTC" (clovaai/deep-text-recognition-benchmark) as the architecture ``dtrb_trbc``.

Written from DTRB's model description (``model.py``, ``modules/transformation.py``, ``feature_extraction.py``,
``sequence_modeling.py``) so that its trained ``.pth`` state dicts load by name (``convert.DTRB_RENAMES``):

- input: 1 channel (gray), 32x100, ``(x/255 - 0.5)/0.5``.
- TPS localization (``Transformation.LocalizationNetwork`` -> ``transform.loc_net``): 4x [conv3x3 no-bias, BN,
  ReLU] with 64/128/256/512 filters, max-pool after the first three, global average pool, fc 512->256 + ReLU,
  fc -> F x 2 (F = 20).
- TPS grid (``GridGenerator``): DTRB computes ``P_hat @ inv_delta_C @ [C'; 0]`` with the radial basis
  ``r^2 log(r + 1e-6)``; here it is folded into ``grid = A @ C'`` (constant ``A``, no inverse in the graph).
- sampling: ``F.grid_sample(padding_mode='border', align_corners=True)``; DTRB passes ``align_corners=True``
  whenever ``torch.__version__ > "1.2.0"`` (any current PyTorch), matching its pixel-centre fiducial grid.
- backbone (``FeatureExtraction.ConvNet`` -> ``backbone``): ResNet_FeatureExtractor, BasicBlock, layers
  [1, 2, 5, 3], 512 channels -> ``[N,512,1,26]``.
- sequence (``SequenceModeling`` -> ``neck``): ``AdaptiveAvgPool2d((None, 1))`` over the height (a mean here),
  then two BidirectionalLSTM blocks (LSTM hidden 256 + Linear 512->256).
- head (``Prediction`` -> ``head``): Linear 256 -> classes, CTC blank at 0; softmax in eval mode.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..metadata import DEFAULT_CHARSET, Preprocess
from .tps import TPS, initial_fiducials

DTRB_RBF_EPS = 1e-6  # GridGenerator.eps in DTRB: rbf = r^2 * log(r + eps) for the output points
DTRB_SIZE = (32, 100)
DTRB_FIDUCIALS = 20
DTRB_HIDDEN = 256
DTRB_CHANNELS = 512
DTRB_LAYERS = (1, 2, 5, 3)

# DTRB's demo.py / test.py: PIL 'L' gray, ResizeNormalize((100, 32)) (stretched, no padding), (x/255 - 0.5)/0.5.
DTRB_PREPROCESS = Preprocess(height=32, width=100, channels=1, channel_order="gray", resize="stretch")


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU()]


class DtrbLocalizationNetwork(nn.Module):
    """RARE localization network with DTRB's layout: ``conv`` is one Sequential (conv, BN, ReLU, pool) x 4."""

    def __init__(self, in_channels: int = 1, num_fiducial: int = DTRB_FIDUCIALS) -> None:
        super().__init__()
        self.num_fiducial = num_fiducial
        layers: list[nn.Module] = []
        for i, out_channels in enumerate((64, 128, 256, 512)):
            layers += _conv_bn_relu(in_channels, out_channels)
            layers.append(nn.MaxPool2d(2, 2) if i < 3 else nn.AdaptiveAvgPool2d(1))
            in_channels = out_channels
        self.conv = nn.Sequential(*layers)
        self.fc1 = nn.Linear(512, 256)
        self.fc2 = nn.Linear(256, num_fiducial * 2)
        nn.init.zeros_(self.fc2.weight)
        with torch.no_grad():
            self.fc2.bias.copy_(torch.from_numpy(initial_fiducials(num_fiducial).reshape(-1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(x), 1)
        return self.fc2(F.relu(self.fc1(x))).reshape(-1, self.num_fiducial, 2)


def dtrb_tps(in_channels: int = 1, num_fiducial: int = DTRB_FIDUCIALS, size: tuple[int, int] = DTRB_SIZE) -> TPS:
    """TPS rectification as DTRB computes it: our TPS (the grid folded into one constant ``[H*W, F]`` matrix) with
    DTRB's localization network, its radial basis eps and border padding."""
    loc_net = DtrbLocalizationNetwork(in_channels, num_fiducial)
    return TPS(in_channels, num_fiducial, size=size, loc_net=loc_net, padding_mode="border", eps=DTRB_RBF_EPS)


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs); ``downsample`` is a 1x1 conv + BN when the width changes."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if in_channels != channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class DtrbResNet(nn.Module):
    """DTRB's ResNet_FeatureExtractor (FAN's ResNet): ``[N,C,32,100]`` -> ``[N,512,1,26]``."""

    def __init__(self, in_channels: int = 1, channels: int = DTRB_CHANNELS, layers=DTRB_LAYERS) -> None:
        super().__init__()
        widths = (channels // 4, channels // 2, channels, channels)
        self.out_channels = channels
        self.conv0_1 = nn.Conv2d(in_channels, channels // 16, 3, 1, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(channels // 16)
        self.conv0_2 = nn.Conv2d(channels // 16, channels // 8, 3, 1, 1, bias=False)
        self.bn0_2 = nn.BatchNorm2d(channels // 8)
        self.maxpool1 = nn.MaxPool2d(2, 2)
        self.maxpool2 = nn.MaxPool2d(2, 2)
        self.maxpool3 = nn.MaxPool2d(2, (2, 1), (0, 1))
        planes = channels // 8
        for i, (width, blocks) in enumerate(zip(widths, layers, strict=True), start=1):
            stage = [BasicBlock(planes, width)] + [BasicBlock(width, width) for _ in range(blocks - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*stage))
            planes = width
            if i < 4:
                setattr(self, f"conv{i}", nn.Conv2d(width, width, 3, 1, 1, bias=False))
                setattr(self, f"bn{i}", nn.BatchNorm2d(width))
        self.conv4_1 = nn.Conv2d(channels, channels, 2, (2, 1), (0, 1), bias=False)
        self.bn4_1 = nn.BatchNorm2d(channels)
        self.conv4_2 = nn.Conv2d(channels, channels, 2, 1, 0, bias=False)
        self.bn4_2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn0_1(self.conv0_1(x)))
        x = F.relu(self.bn0_2(self.conv0_2(x)))
        x = F.relu(self.bn1(self.conv1(self.layer1(self.maxpool1(x)))))
        x = F.relu(self.bn2(self.conv2(self.layer2(self.maxpool2(x)))))
        x = F.relu(self.bn3(self.conv3(self.layer3(self.maxpool3(x)))))
        x = F.relu(self.bn4_1(self.conv4_1(self.layer4(x))))
        return F.relu(self.bn4_2(self.conv4_2(x)))


class BiLSTMBlock(nn.Module):
    """One bidirectional LSTM followed by a Linear back to ``out_size`` (DTRB's BidirectionalLSTM)."""

    def __init__(self, in_size: int, hidden: int, out_size: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(in_size, hidden, bidirectional=True, batch_first=True)
        self.linear = nn.Linear(hidden * 2, out_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.rnn(x)[0])


class DtrbTRBC(nn.Module):
    """TPS-ResNet-BiLSTM-CTC. Input ``[N,1,32,100]`` normalized gray; output ``[N,26,num_classes]``.

    Training mode returns logits (DTRB's ``Prediction`` output); eval mode returns softmax probabilities.

    Example:
        >>> model = DtrbTRBC().eval()
        >>> model(torch.zeros(2, 1, 32, 100)).shape
        torch.Size([2, 26, 37])
    """

    arch = "dtrb_trbc"
    preprocess = DTRB_PREPROCESS

    def __init__(self, num_classes: int = len(DEFAULT_CHARSET) + 1, hidden: int = DTRB_HIDDEN) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.size = DTRB_SIZE
        self.in_channels = DTRB_PREPROCESS.channels
        self.transform = dtrb_tps(self.in_channels, DTRB_FIDUCIALS, self.size)
        self.backbone = DtrbResNet(self.in_channels)
        self.neck = nn.Sequential(
            BiLSTMBlock(self.backbone.out_channels, hidden, hidden), BiLSTMBlock(hidden, hidden, hidden)
        )
        self.head = nn.Linear(hidden, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Rectified image -> backbone -> mean over the height -> sequence ``[N,T,512]``."""
        return self.backbone(self.transform(x)).mean(dim=2).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.neck(self.features(x)))
        return logits if self.training else torch.softmax(logits, dim=2)
