"""TPS spatial transformer (RARE / STAR-Net) as PaddleOCR v2.0 builds it, with the grid folded to one matrix.

PaddleOCR computes, at every forward pass, ``P' = P_hat @ inv(delta_C) @ [C'; ex_fc(C')]`` where ``ex_fc``
is a Linear whose weights and bias are zero and frozen (learning rate 0), so its rows contribute nothing.
Everything except the predicted fiducials ``C'`` is constant, hence ``P' = A @ C'`` with
``A = P_hat @ inv(delta_C)[:, :F]`` of shape ``[H*W, F]``. We compute ``A`` once in float64 NumPy, exactly
as Paddle does, and keep it as a buffer: the exported graph has a MatMul and a GridSample, no matrix
inverse (the inverse is why PaddleOCR's TPS models do not export to ONNX/TensorRT).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .layers import ConvBN

TPS_SIZES = {
    # model_name: (conv filters, fc dim) -- PaddleOCR LocalizationNetwork
    "large": ((64, 128, 256, 512), 256),
    "small": ((16, 32, 64, 128), 64),
}


def fiducial_points(num_fiducial: int) -> np.ndarray:
    """Base control points ``C``: F/2 on the top edge (y=-1) and F/2 on the bottom edge (y=1)."""
    half = num_fiducial // 2
    xs = np.linspace(-1.0, 1.0, half)
    top = np.stack([xs, -np.ones(half)], axis=1)
    bottom = np.stack([xs, np.ones(half)], axis=1)
    return np.concatenate([top, bottom], axis=0)


def initial_fiducials(num_fiducial: int) -> np.ndarray:
    """Initial bias of the last localization FC (RARE paper Fig. 6 (a)), as in PaddleOCR/DTRB."""
    half = num_fiducial // 2
    xs = np.linspace(-1.0, 1.0, half)
    top = np.stack([xs, np.linspace(0.0, -1.0, half)], axis=1)
    bottom = np.stack([xs, np.linspace(1.0, 0.0, half)], axis=1)
    return np.concatenate([top, bottom], axis=0)


def output_points(height: int, width: int) -> np.ndarray:
    """Pixel-centre coordinates of the rectified image in [-1, 1], row-major ``[H*W, 2]`` as (x, y)."""
    gx = (np.arange(-width, width, 2, dtype=np.float64) + 1.0) / width
    gy = (np.arange(-height, height, 2, dtype=np.float64) + 1.0) / height
    xx, yy = np.meshgrid(gx, gy)  # [H, W] each
    return np.stack([xx, yy], axis=2).reshape(-1, 2)


def tps_grid_matrix(num_fiducial: int, height: int, width: int, eps: float = 1e-6) -> np.ndarray:
    """The constant ``A`` with ``grid = A @ C'``: ``[H*W, F]`` float64, Paddle's GridGenerator folded."""
    f = num_fiducial
    c = fiducial_points(f)
    hat_c = np.linalg.norm(c[None, :, :] - c[:, None, :], axis=2) + np.eye(f)
    hat_c = hat_c**2 * np.log(hat_c)
    delta_c = np.concatenate(
        [
            np.concatenate([np.ones((f, 1)), c, hat_c], axis=1),
            np.concatenate([np.zeros((2, 3)), c.T], axis=1),
            np.concatenate([np.zeros((1, 3)), np.ones((1, f))], axis=1),
        ],
        axis=0,
    )
    inv_delta_c = np.linalg.inv(delta_c)
    p = output_points(height, width)
    r = np.linalg.norm(p[:, None, :] - c[None, :, :], axis=2)
    rbf = r**2 * np.log(r + eps)
    p_hat = np.concatenate([np.ones((p.shape[0], 1)), p, rbf], axis=1)
    return p_hat @ inv_delta_c[:, :f]


class LocalizationNetwork(nn.Module):
    """4x [conv3x3+BN+ReLU], max-pool after the first three, global average pool, fc1+ReLU, fc2 -> F x 2."""

    def __init__(self, in_channels: int, num_fiducial: int = 20, model_name: str = "small") -> None:
        super().__init__()
        if model_name not in TPS_SIZES:
            raise ValueError(f"TPS model_name must be one of {sorted(TPS_SIZES)}, got {model_name!r}")
        filters, fc_dim = TPS_SIZES[model_name]
        self.num_fiducial = num_fiducial
        convs = []
        for out_channels in filters:
            convs.append(ConvBN(in_channels, out_channels, 3, act="relu"))
            in_channels = out_channels
        self.convs = nn.ModuleList(convs)
        self.fc1 = nn.Linear(in_channels, fc_dim)
        self.fc2 = nn.Linear(fc_dim, num_fiducial * 2)
        nn.init.zeros_(self.fc2.weight)
        with torch.no_grad():
            self.fc2.bias.copy_(torch.from_numpy(initial_fiducials(num_fiducial).reshape(-1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            x = conv(x)
            x = F.adaptive_avg_pool2d(x, 1) if i == last else F.max_pool2d(x, 2, 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x).reshape(-1, self.num_fiducial, 2)


class TPS(nn.Module):
    """Rectifies ``[N,C,H,W]`` into the same size: fiducials -> constant-matrix grid -> bilinear grid sample.

    Grid sampling is bilinear with ``align_corners=True`` and, by default, Paddle's zeros padding. DTRB's TPS
    (``dtrb.py``) is this module with its own localization network and border padding.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_fiducial: int = 20,
        model_name: str = "small",
        size: tuple[int, int] = (32, 100),
        *,
        loc_net: nn.Module | None = None,
        padding_mode: str = "zeros",
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.size = tuple(size)
        self.padding_mode = padding_mode
        self.loc_net = loc_net if loc_net is not None else LocalizationNetwork(in_channels, num_fiducial, model_name)
        grid = torch.from_numpy(tps_grid_matrix(num_fiducial, *self.size, eps=eps)).float()
        # Not persistent: derived from the architecture, so checkpoints (ours and Paddle's) do not carry it.
        self.register_buffer("grid_matrix", grid, persistent=False)

    def grid(self, fiducials: torch.Tensor) -> torch.Tensor:
        """Sampling grid ``[N,H,W,2]`` in [-1,1] (x, y) from fiducials ``[N,F,2]``."""
        h, w = self.size
        return torch.matmul(self.grid_matrix, fiducials).reshape(-1, h, w, 2)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if tuple(image.shape[2:]) != self.size:
            raise ValueError(f"TPS expects input of size {self.size}, got {tuple(image.shape[2:])}")
        fiducials = self.loc_net(image)
        return F.grid_sample(
            image, self.grid(fiducials), mode="bilinear", padding_mode=self.padding_mode, align_corners=True
        )
