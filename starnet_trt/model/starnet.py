"""STAR-Net = TPS + backbone + 2-layer BiLSTM + CTC head, both PaddleOCR v2.0 variants.

| arch             | TPS   | backbone              | features | BiLSTM hidden |
|------------------|-------|-----------------------|----------|---------------|
| `starnet_r34_vd` | large | ResNet34_vd           | 512      | 256           |
| `starnet_mv3`    | small | MobileNetV3-large x0.5 | 480      | 96            |
| `dtrb_trbc`      | DTRB  | DTRB ResNet [1,2,5,3]  | 512      | 256 (2 blocks) |

``dtrb_trbc`` is DTRB's TPS-ResNet-BiLSTM-CTC (``model/dtrb.py``): 1-channel input, border padding, T = 26.

Training mode returns logits ``[N,T,C]``; eval mode returns softmax probabilities (as Paddle's CTCHead).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..metadata import DEFAULT_CHARSET
from .dtrb import DtrbTRBC
from .mobilenet_v3 import MobileNetV3
from .resnet_vd import ResNetVd
from .tps import TPS


@dataclass(frozen=True)
class ArchSpec:
    tps: str
    backbone: str
    hidden: int


ARCHS = {
    "starnet_r34_vd": ArchSpec(tps="large", backbone="resnet34_vd", hidden=256),
    "starnet_mv3": ArchSpec(tps="small", backbone="mobilenet_v3", hidden=96),
    "dtrb_trbc": ArchSpec(tps="dtrb", backbone="dtrb_resnet", hidden=256),
}


class StarNet(nn.Module):
    """STAR-Net recognizer. Input ``[N,3,32,100]`` normalized BGR; output ``[N,25,num_classes]``."""

    def __init__(
        self, arch: str = "starnet_mv3", num_classes: int = len(DEFAULT_CHARSET) + 1, size: tuple[int, int] = (32, 100)
    ) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r}; expected one of {sorted(ARCHS)}")
        if ARCHS[arch].backbone == "dtrb_resnet":
            raise ValueError(f"{arch} is not a PaddleOCR STAR-Net: build it with build_model({arch!r})")
        spec = ARCHS[arch]
        self.arch = arch
        self.num_classes = num_classes
        self.size = tuple(size)
        self.transform = TPS(3, 20, spec.tps, self.size)
        self.backbone = MobileNetV3(3, 0.5) if spec.backbone == "mobilenet_v3" else ResNetVd(3)
        self.neck = nn.LSTM(self.backbone.out_channels, spec.hidden, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(spec.hidden * 2, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Rectified image -> backbone -> sequence ``[N,T,feat]`` (Paddle's Im2Seq)."""
        x = self.backbone(self.transform(x))
        if x.shape[2] != 1:
            raise ValueError(f"backbone output height must be 1, got {x.shape[2]} (input height must be 32)")
        return x.flatten(2).transpose(1, 2)  # [N,C,1,T] -> [N,T,C]; flatten avoids an If node in ONNX

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq, _ = self.neck(self.features(x))
        logits = self.head(seq)
        return logits if self.training else torch.softmax(logits, dim=2)


def build_model(arch: str = "starnet_mv3", num_classes: int = len(DEFAULT_CHARSET) + 1) -> StarNet | DtrbTRBC:
    """Build a STAR-Net with PyTorch default initialization (the TPS last layer starts at the RARE prior).

    ``dtrb_trbc`` gives DTRB's TPS-ResNet-BiLSTM-CTC (:class:`~starnet_trt.model.dtrb.DtrbTRBC`).

    Example:
        >>> model = build_model("starnet_mv3").eval()
        >>> model(torch.zeros(2, 3, 32, 100)).shape
        torch.Size([2, 25, 37])
    """
    if arch in ARCHS and ARCHS[arch].backbone == "dtrb_resnet":
        return DtrbTRBC(num_classes, hidden=ARCHS[arch].hidden)
    return StarNet(arch, num_classes)
