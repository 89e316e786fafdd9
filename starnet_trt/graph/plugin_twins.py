"""CPU twins of the two TensorRT plugins, as ONNX Runtime custom ops, to check the plugin graph without a GPU.

:func:`plugin_session` opens a graph rewritten by :func:`starnet_trt.graph.plugins.insert_plugins` in ONNX Runtime
with these Python implementations registered through ``onnxruntime-extensions`` (``pip install
onnxruntime-extensions``; a test/verification dependency only). They are the C++ CPU twins of the CUDA
kernels behind the plugins (same per-element code in ``csrc/core``): ``StarNetTPSGridSample`` forms each
output pixel's grid point from its row of the TPS matrix (the node's third input, or STAR-Net's TPS evaluated
from the radial basis when it has two) and the fiducials, and samples bilinearly like ONNX ``GridSample``;
``StarNetCTCGreedyDecode`` is the greedy decode (indices padded with -1).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..ops import tps_grid_sample  # StarNetTPSGridSample: the C++ CPU twin of the CUDA kernel
from .plugins import DECODE_OP, PLUGIN_DOMAIN, TPS_OP

ORT_CUSTOM_DOMAIN = "ai.onnx.contrib"  # where onnxruntime-extensions looks for Python ops
# A Python op has a fixed arity: the two-input (on-the-fly) TPS node is renamed to this twin in plugin_session.
TPS_ON_THE_FLY_TWIN = f"{TPS_OP}OnTheFly"


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

    tps_attrs = {
        "out_height": PyCustomOpDef.dt_int64,
        "out_width": PyCustomOpDef.dt_int64,
        "align_corners": PyCustomOpDef.dt_int64,
        "padding_mode": PyCustomOpDef.dt_string,
        **strings,
    }

    def _tps_call(image: np.ndarray, fiducials: np.ndarray, table: np.ndarray | None, attrs: dict) -> np.ndarray:
        return tps_grid_sample(
            image,
            fiducials,
            int(attrs["out_height"]),
            int(attrs["out_width"]),
            bool(attrs["align_corners"]),
            str(attrs["padding_mode"]),
            table=table,
        )

    @onnx_op(
        op_type=TPS_OP,
        inputs=[PyCustomOpDef.dt_float, PyCustomOpDef.dt_float, PyCustomOpDef.dt_float],
        outputs=[PyCustomOpDef.dt_float],
        attrs=tps_attrs,
    )
    def _tps_table(image: np.ndarray, fiducials: np.ndarray, table: np.ndarray, **attrs: Any) -> np.ndarray:
        return _tps_call(image, fiducials, table, attrs)

    @onnx_op(
        op_type=TPS_ON_THE_FLY_TWIN,
        inputs=[PyCustomOpDef.dt_float, PyCustomOpDef.dt_float],
        outputs=[PyCustomOpDef.dt_float],
        attrs=tps_attrs,
    )
    def _tps(image: np.ndarray, fiducials: np.ndarray, **attrs: Any) -> np.ndarray:
        return _tps_call(image, fiducials, None, attrs)

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
            if node.op_type == TPS_OP and len(node.input) == 2:
                node.op_type = TPS_ON_THE_FLY_TWIN
    for opset in model.opset_import:
        if opset.domain == PLUGIN_DOMAIN:
            opset.domain = ORT_CUSTOM_DOMAIN
    options = ort.SessionOptions()
    options.register_custom_ops_library(library)
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
