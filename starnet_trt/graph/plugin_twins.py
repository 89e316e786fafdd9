"""CPU twins of the two TensorRT plugins, as ONNX Runtime custom ops, to check the plugin graph without a GPU.

:func:`plugin_session` opens a graph rewritten by :func:`starnet_trt.graph.plugins.insert_plugins` in ONNX Runtime
with these Python implementations registered through ``onnxruntime-extensions`` (``pip install
onnxruntime-extensions``; a test/verification dependency only). They are the specification the CUDA plugins are
held to: ``StarNetTPSGridSample`` evaluates STAR-Net's TPS from the fiducials (float64) and samples bilinearly
like ONNX ``GridSample``; ``StarNetCTCGreedyDecode`` is the C++ core's greedy decode (indices padded with -1).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .plugins import DECODE_OP, PLUGIN_DOMAIN, TPS_OP

ORT_CUSTOM_DOMAIN = "ai.onnx.contrib"  # where onnxruntime-extensions looks for Python ops


def tps_grid_sample(
    image: np.ndarray,
    fiducials: np.ndarray,
    out_height: int,
    out_width: int,
    align_corners: bool = True,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """STAR-Net TPS rectification: ``[N,C,H,W]`` image and ``[N,F,2]`` fiducials -> ``[N,C,out_height,out_width]``."""
    if padding_mode != "zeros":
        raise ValueError(f"padding_mode {padding_mode!r} is not supported (STAR-Net uses 'zeros')")
    n, f, _ = fiducials.shape
    matrix = _tps_matrix(f, out_height, out_width)
    grid = (matrix[None] @ fiducials.astype(np.float64)).reshape(n, out_height, out_width, 2)
    return bilinear_sample(image, grid, align_corners).astype(image.dtype)


@functools.lru_cache(maxsize=8)
def _tps_matrix(f: int, height: int, width: int) -> np.ndarray:
    """STAR-Net's constant TPS matrix (float64), from the reference model's own code."""
    from ..model.tps import tps_grid_matrix

    return tps_grid_matrix(f, height, width)


def bilinear_sample(image: np.ndarray, grid: np.ndarray, align_corners: bool) -> np.ndarray:
    """ONNX ``GridSample`` (bilinear, zeros padding) in float64: ``grid`` ``[N,Ho,Wo,2]`` as (x, y) in [-1, 1]."""
    n, c, h, w = image.shape
    gx, gy = grid[..., 0], grid[..., 1]
    if align_corners:
        x, y = (gx + 1.0) * (w - 1) / 2.0, (gy + 1.0) * (h - 1) / 2.0
    else:
        x, y = ((gx + 1.0) * w - 1.0) / 2.0, ((gy + 1.0) * h - 1.0) / 2.0
    x0, y0 = np.floor(x), np.floor(y)
    wx, wy = x - x0, y - y0
    src = image.astype(np.float64)
    batch = np.arange(n)[:, None, None]
    out = np.zeros((n, grid.shape[1], grid.shape[2], c))
    for dy, dx, weight in ((0, 0, (1 - wx) * (1 - wy)), (0, 1, wx * (1 - wy)), (1, 0, (1 - wx) * wy), (1, 1, wx * wy)):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        xc = np.clip(xi, 0, w - 1).astype(np.intp)
        yc = np.clip(yi, 0, h - 1).astype(np.intp)
        out += src.transpose(0, 2, 3, 1)[batch, yc, xc] * (weight * inside)[..., None]
    return out.transpose(0, 3, 1, 2)


def ctc_greedy_decode(scores: np.ndarray, blank: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``StarNetCTCGreedyDecode``: int32 indices ``[N,T]`` (padded with -1), int32 lengths, float32 confidence."""
    from ..ops import ctc_greedy_decode as core_decode

    return core_decode(np.ascontiguousarray(scores, dtype=np.float32), blank=blank)


@functools.cache
def _register() -> str:
    """Register the twins with onnxruntime-extensions once; returns its custom-op library path."""
    try:
        from onnxruntime_extensions import PyCustomOpDef, get_library_path, onnx_op
    except ImportError as exc:
        raise RuntimeError(
            "checking the plugin graph on the CPU needs onnxruntime-extensions: pip install onnxruntime-extensions"
        ) from exc
    strings = {"plugin_version": PyCustomOpDef.dt_string, "plugin_namespace": PyCustomOpDef.dt_string}

    @onnx_op(
        op_type=TPS_OP,
        inputs=[PyCustomOpDef.dt_float, PyCustomOpDef.dt_float],
        outputs=[PyCustomOpDef.dt_float],
        attrs={
            "out_height": PyCustomOpDef.dt_int64,
            "out_width": PyCustomOpDef.dt_int64,
            "align_corners": PyCustomOpDef.dt_int64,
            "padding_mode": PyCustomOpDef.dt_string,
            **strings,
        },
    )
    def _tps(image: np.ndarray, fiducials: np.ndarray, **attrs: Any) -> np.ndarray:
        return tps_grid_sample(
            image,
            fiducials,
            int(attrs["out_height"]),
            int(attrs["out_width"]),
            bool(attrs["align_corners"]),
            str(attrs["padding_mode"]),
        )

    @onnx_op(
        op_type=DECODE_OP,
        inputs=[PyCustomOpDef.dt_float],
        outputs=[PyCustomOpDef.dt_int32, PyCustomOpDef.dt_int32, PyCustomOpDef.dt_float],
        attrs={"blank": PyCustomOpDef.dt_int64, **strings},
    )
    def _decode(scores: np.ndarray, **attrs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return ctc_greedy_decode(scores, int(attrs["blank"]))

    return get_library_path()


def plugin_session(proto: Any) -> Any:
    """An ONNX Runtime CPU session over a plugin graph, with the twins standing in for the plugins."""
    import onnx
    import onnxruntime as ort

    library = _register()
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    for node in model.graph.node:
        if node.domain == PLUGIN_DOMAIN:
            node.domain = ORT_CUSTOM_DOMAIN
    for opset in model.opset_import:
        if opset.domain == PLUGIN_DOMAIN:
            opset.domain = ORT_CUSTOM_DOMAIN
    options = ort.SessionOptions()
    options.register_custom_ops_library(library)
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
