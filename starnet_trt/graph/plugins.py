"""Plugin graph surgery: the TPS grid + sampler becomes one ``StarNetTPSGridSample`` node, and a
``StarNetCTCGreedyDecode`` node is appended so only small int arrays leave the engine.

Before (as ``starnet-trt export`` writes it)::

    fiducials [N,F,2] --MatMul(A [H*W,F])--> Reshape [N,H,W,2] --grid--> GridSample(image) --> rectified
    ... --> probs [N,T,C]

After::

    StarNetTPSGridSample(image, fiducials, A) --> rectified     (the grid is never in memory)
    ... --> probs --> StarNetCTCGreedyDecode --> indices [N,T] int32, lengths [N] int32, confidence [N] float32

The plugin nodes carry ``plugin_version`` / ``plugin_namespace`` attributes, which TensorRT's ONNX parser uses to
find the plugin creator (the node's domain is informational). Attributes of ``StarNetTPSGridSample``:
``out_height``, ``out_width`` (ints), ``align_corners`` (int 0/1), ``padding_mode`` (string, ``"zeros"``);
of ``StarNetCTCGreedyDecode``: ``blank`` (int). The plugin library (the CUDA-plugins issue) must use these names.

The TPS node's third input is the graph's own constant ``A`` (``tps_rows="table"``, the default): the kernel
reads each output pixel's row from it, so a launch does no double-precision work (GPUs outside the data-centre
line run float64 at 1/32-1/64 of their float rate: Jetson Orin, T4, GeForce) and the plugin reproduces the
exported MatMul's constant exactly; any constant ``A`` of shape ``[H*W, F]`` is accepted. With
``tps_rows="on-the-fly"`` the node has two inputs and the plugin evaluates the radial basis per launch; then
``A`` is first checked against the STAR-Net TPS it stands for (:func:`starnet_trt.model.tps.tps_grid_matrix`),
because a model whose matrix differs would silently change meaning.

The rewrite is plain ``onnx`` protobuf editing (find three nodes, add one, prune what no output needs), so it
needs no onnx-graphsurgeon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PLUGIN_DOMAIN = "starnet.trt"
PLUGIN_VERSION = "1"
PLUGIN_NAMESPACE = ""
TPS_OP = "StarNetTPSGridSample"
DECODE_OP = "StarNetCTCGreedyDecode"
DECODE_OUTPUTS = ("indices", "lengths", "confidence")
GRID_TOLERANCE = 1e-4  # |A - A_star-net| in normalized coordinates (fp32 export of a float64 matrix)
TPS_ROWS = ("table", "on-the-fly")
MAX_FIDUCIALS = 32  # the kernel's limit (csrc/core/tpsGridSampleImpl.h, kMAX_FIDUCIALS)


@dataclass(frozen=True)
class PluginRecord:
    """A plugin the rewritten graph uses (for the engine sidecar)."""

    name: str
    version: str = PLUGIN_VERSION
    namespace: str = PLUGIN_NAMESPACE

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "namespace": self.namespace}


def _constant_value(graph: Any, name: str) -> np.ndarray | None:
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for node in graph.node:
        if node.op_type == "Constant" and name in node.output:
            for attr in node.attribute:
                if attr.name == "value":
                    return numpy_helper.to_array(attr.t)
    return None


def _producer(graph: Any, tensor: str) -> Any | None:
    return next((n for n in graph.node if tensor in n.output), None)


def _prune(graph: Any) -> None:
    """Drop nodes and initializers no graph output depends on."""
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    unused = [t for t in graph.initializer if t.name not in needed]
    for t in unused:
        graph.initializer.remove(t)
    stale = [v for v in graph.value_info if v.name not in needed]
    for v in stale:
        graph.value_info.remove(v)


def _attr(node: Any, name: str, default: Any) -> Any:
    from onnx import helper

    for attr in node.attribute:
        if attr.name == name:
            value = helper.get_attribute_value(attr)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _replace_tps(graph: Any, tps_rows: str) -> PluginRecord:
    from onnx import helper

    samplers = [n for n in graph.node if n.op_type == "GridSample"]
    if len(samplers) != 1:
        raise ValueError(f"expected one GridSample (the TPS sampler), found {len(samplers)}")
    sampler = samplers[0]
    if _attr(sampler, "mode", "bilinear") not in ("bilinear", "linear"):
        raise ValueError("the TPS GridSample must be bilinear for StarNetTPSGridSample")
    reshape = _producer(graph, sampler.input[1])
    matmul = _producer(graph, reshape.input[0]) if reshape is not None and reshape.op_type == "Reshape" else None
    if matmul is None or matmul.op_type != "MatMul":
        raise ValueError(
            "the TPS grid is not MatMul(A, fiducials) -> Reshape: export the model with 'starnet-trt export'"
        )
    matrix = _constant_value(graph, matmul.input[0])
    if matrix is None or matrix.ndim != 2:
        raise ValueError("the TPS grid MatMul has no constant [H*W, F] matrix")
    shape = _constant_value(graph, reshape.input[1])
    if shape is None or shape.size != 4:
        raise ValueError("the TPS grid Reshape has no constant [N, H, W, 2] shape")
    height, width = int(shape[1]), int(shape[2])
    fiducials = matmul.input[1]
    _check_table_shape(matrix, height, width)
    if tps_rows == "table":
        inputs = [sampler.input[0], fiducials, _float32_constant(graph, matmul.input[0], matrix)]
    else:
        _check_grid_matrix(matrix, height, width)
        inputs = [sampler.input[0], fiducials]
    node = helper.make_node(
        TPS_OP,
        inputs,
        list(sampler.output),
        name=f"{sampler.name}_{TPS_OP}",
        domain=PLUGIN_DOMAIN,
        out_height=height,
        out_width=width,
        align_corners=int(_attr(sampler, "align_corners", 0)),
        padding_mode=str(_attr(sampler, "padding_mode", "zeros")),
        plugin_version=PLUGIN_VERSION,
        plugin_namespace=PLUGIN_NAMESPACE,
    )
    index = list(graph.node).index(sampler)
    graph.node.remove(sampler)
    graph.node.insert(index, node)
    return PluginRecord(TPS_OP)


def _check_table_shape(matrix: np.ndarray, height: int, width: int) -> None:
    if matrix.shape[0] != height * width:
        raise ValueError(f"TPS grid matrix has {matrix.shape[0]} rows, expected {height}x{width}")
    f = matrix.shape[1]
    if f < 4 or f > MAX_FIDUCIALS or f % 2:
        raise ValueError(
            f"TPS grid matrix has {f} columns (fiducials); StarNetTPSGridSample takes an even F in [4, 32]"
        )
    if not np.isfinite(matrix).all():
        raise ValueError("the TPS grid matrix has non-finite entries")


def _float32_constant(graph: Any, name: str, matrix: np.ndarray) -> str:
    """The name of a float32 initializer holding ``matrix`` for the plugin's table input (``name`` itself when
    it already is one; a float16 or Constant-node matrix gets a float32 copy, which the plugin requires)."""
    from onnx import TensorProto, numpy_helper

    for init in graph.initializer:
        if init.name == name and init.data_type == TensorProto.FLOAT:
            return name
    copy = numpy_helper.from_array(np.ascontiguousarray(matrix, dtype=np.float32), f"{name}_{TPS_OP}_table")
    graph.initializer.append(copy)
    return copy.name


def _check_grid_matrix(matrix: np.ndarray, height: int, width: int) -> None:
    try:
        from ..model.tps import tps_grid_matrix
    except ImportError:  # the reference lives with the PyTorch model; without torch the check is skipped
        log.info("PyTorch not installed: the TPS grid matrix is not checked against the STAR-Net TPS")
        return
    expected = tps_grid_matrix(matrix.shape[1], height, width)
    error = float(np.abs(matrix.astype(np.float64) - expected).max())
    if error > GRID_TOLERANCE:
        raise ValueError(
            f"the TPS grid matrix differs from STAR-Net's (max |diff| {error:.2e}); StarNetTPSGridSample would change "
            "the model: build with --plugins none"
        )


def _append_decode(graph: Any, blank: int, keep_probs: bool) -> PluginRecord:
    from onnx import TensorProto, helper

    if not graph.output:
        raise ValueError("the model has no output to decode")
    probs = graph.output[0]  # the model's scores; later outputs (debug taps) are left alone
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "N") for d in probs.type.tensor_type.shape.dim]
    if len(dims) != 3:
        raise ValueError(f"the first output {probs.name!r} must be [N, T, classes] scores, got rank {len(dims)}")
    batch, steps = dims[0], dims[1]
    graph.node.append(
        helper.make_node(
            DECODE_OP,
            [probs.name],
            list(DECODE_OUTPUTS),
            name=f"/{DECODE_OP}",
            domain=PLUGIN_DOMAIN,
            blank=blank,
            plugin_version=PLUGIN_VERSION,
            plugin_namespace=PLUGIN_NAMESPACE,
        )
    )
    outputs = [
        helper.make_tensor_value_info("indices", TensorProto.INT32, [batch, steps]),
        helper.make_tensor_value_info("lengths", TensorProto.INT32, [batch]),
        helper.make_tensor_value_info("confidence", TensorProto.FLOAT, [batch]),
    ]
    if not keep_probs:
        graph.output.remove(probs)
    graph.output.extend(outputs)
    return PluginRecord(DECODE_OP)


def insert_plugins(
    proto: Any,
    *,
    tps: bool = True,
    decode: bool = True,
    keep_probs: bool = False,
    blank: int = 0,
    tps_rows: str = "table",
) -> tuple[Any, list[PluginRecord]]:
    """A copy of ``proto`` with the starnet-trt plugin nodes (see the module docstring).

    Args:
        proto: STAR-Net ``onnx.ModelProto`` (float, fp16 or Q/DQ), not modified.
        tps: Replace the TPS grid + GridSample with ``StarNetTPSGridSample``.
        decode: Append ``StarNetCTCGreedyDecode`` (outputs ``indices``, ``lengths``, ``confidence``).
        keep_probs: Keep ``probs`` as an output next to the decoded ones.
        blank: CTC blank index.
        tps_rows: ``"table"`` (the graph's matrix ``A`` becomes the plugin's third input; no float64 work per
            launch) or ``"on-the-fly"`` (two inputs; the plugin evaluates STAR-Net's TPS, after ``A`` is checked
            against it).

    Returns:
        ``(rewritten model, plugins used)``.

    Raises:
        ValueError: The graph does not have the STAR-Net structure the plugins stand for.

    Example:
        >>> rewritten, plugins = insert_plugins(onnx.load("starnet_mv3.onnx"))  # doctest: +SKIP
        >>> [p.name for p in plugins]  # doctest: +SKIP
        ['StarNetTPSGridSample', 'StarNetCTCGreedyDecode']
    """
    import onnx
    from onnx import helper

    if tps_rows not in TPS_ROWS:
        raise ValueError(f"tps_rows must be one of {TPS_ROWS}, got {tps_rows!r}")
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    records = []
    if tps:
        records.append(_replace_tps(model.graph, tps_rows))
    if decode:
        records.append(_append_decode(model.graph, blank, keep_probs))
    _prune(model.graph)
    if records and all(o.domain != PLUGIN_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(PLUGIN_DOMAIN, 1))
    return model, records
