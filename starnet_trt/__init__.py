"""starnet-trt: STAR-Net scene-text recognition on ONNX Runtime and TensorRT."""

from __future__ import annotations

__version__ = "0.1.0"
