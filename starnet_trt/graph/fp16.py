"""FP16 by graph typing: the precision lives in the ONNX graph, not in a builder flag.

TensorRT 11 and TensorRT-RTX build *strongly typed* networks only (``BuilderFlag.FP16`` is gone), and TensorRT 10
accepts them too, so FP16 is one graph rewrite for every flavour: float32 weights and activations become float16,
the model's input and output stay float32 (the runtime contract, ``x`` float32 and ``probs`` float32, is
unchanged; casts are added at the boundary). We use the converter that ships with ONNX Runtime
(``onnxruntime.transformers.float16``, the same code as ``onnxconverter-common``), so no extra dependency.

Precision policy: nothing is kept in float32 by default, except the TPS plugin's table (its third input, the
[H*W, F] grid matrix), which the plugin takes in float32 only, as its on-the-fly mode rounds its rows. The TPS
grid (coordinates in [-1, 1], fp16 step ~1e-3, i.e. ~0.05 pixel at the 100-pixel width) and the softmax are
benign in fp16; ``keep_float32`` names op types to keep in float32 if a model proves otherwise.

Note: ONNX Runtime 1.2x's graph optimizer can crash on these graphs; to check one on the CPU, open the session
with ``GraphOptimizationLevel.ORT_DISABLE_ALL``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


def convert_to_fp16(proto: Any, *, keep_float32: Iterable[str] = ()) -> Any:
    """A float16 copy of ``proto`` with float32 inputs and outputs.

    Args:
        proto: ``onnx.ModelProto`` (not modified).
        keep_float32: op types to leave in float32 (casts are inserted around them). Quantize/Dequantize nodes
            of a Q/DQ graph always stay float32: their scales are float32 at opset < 19.

    Returns:
        The converted model, with the same ``metadata_props``.
    """
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    block = sorted({*DEFAULT_OP_BLOCK_LIST, *keep_float32, *QDQ_OPS})
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    converted = convert_float_to_float16(copy, keep_io_types=True, op_block_list=block, disable_shape_infer=False)
    _restore_tps_tables(proto, converted)
    # The converter keeps metadata_props, but say so explicitly: the sidecar and runtime read them.
    if {p.key for p in converted.metadata_props} != {p.key for p in proto.metadata_props}:
        del converted.metadata_props[:]
        converted.metadata_props.extend(proto.metadata_props)
    return converted


def _restore_tps_tables(original: Any, converted: Any) -> None:
    """Put the float32 TPS tables back: the converter types every initializer of a custom node float16."""
    from onnx import TensorProto

    from .plugins import PLUGIN_DOMAIN, TPS_OP

    tables = {
        n.input[2]
        for n in converted.graph.node
        if n.op_type == TPS_OP and n.domain == PLUGIN_DOMAIN and len(n.input) > 2
    }
    if not tables:
        return
    before = {t.name: t for t in original.graph.initializer if t.name in tables}
    for i, init in enumerate(converted.graph.initializer):
        if init.name in before and init.data_type != TensorProto.FLOAT:
            if before[init.name].data_type != TensorProto.FLOAT:
                raise ValueError(f"the TPS table {init.name!r} is not float32 in the graph to convert")
            converted.graph.initializer[i].CopyFrom(before[init.name])
