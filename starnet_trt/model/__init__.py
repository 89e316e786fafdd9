"""PyTorch reference model of STAR-Net, parameter-for-parameter equal to PaddleOCR v2.0's.

Requires the ``torch`` extra (``pip install 'starnet-trt[torch]'``).
"""

from __future__ import annotations

from .starnet import ARCHS, StarNet, build_model

__all__ = ["ARCHS", "StarNet", "build_model"]
