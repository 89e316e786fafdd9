"""Activation ranges for INT8 calibration in bounded memory: max |x| and a percentile of |x| per tensor.

ONNX Runtime's histogram calibrators (``percentile``, ``entropy``) keep every activation of every calibration
batch until the end: for the bundled MobileNetV3 STAR-Net and 512 word images that is 6 GB of resident memory,
most of the 8 GB a Jetson Orin Nano shares between CPU and GPU. This module streams instead, with two passes over
the images:

1. ``max |x|`` of every float activation;
2. a histogram of ``|x|`` over ``[0, max]`` (``bins`` equal bins) per tensor, accumulated batch by batch.

The threshold of a tensor is the upper edge of the bin where the cumulative share of ``|x|`` reaches
``percentile`` (so at least that share of the values lies inside the range), never above the maximum. Memory is
one batch of activations plus ``bins`` counters per tensor, whatever the number of images.

The symmetric thresholds become ``rmin = -t, rmax = t`` overrides of ONNX Runtime's quantizer
(``TensorQuantOverrides``), which turns them into int8 scales (``t / 127``, zero point 0) as it does its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from . import argcheck

DEFAULT_PERCENTILE = 99.999
DEFAULT_BINS = 2048

_FLOAT_TYPES = (1, 10)  # onnx.TensorProto.FLOAT, FLOAT16


def float_activations(proto: Any) -> list[str]:
    """Names of the float tensors computed by the graph (its inputs and node outputs; not initializers)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(proto)
    types: dict[str, int] = {}
    for info in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        if info.type.HasField("tensor_type"):
            types[info.name] = info.type.tensor_type.elem_type
    constants = {t.name for t in proto.graph.initializer}
    constants |= {o for n in proto.graph.node if n.op_type == "Constant" for o in n.output}
    names: list[str] = []
    seen: set[str] = set()
    candidates = [i.name for i in proto.graph.input] + [o for n in proto.graph.node for o in n.output]
    for name in candidates:
        if name and name not in seen and name not in constants and types.get(name) in _FLOAT_TYPES:
            seen.add(name)
            names.append(name)
    return names


def _session(proto: Any, names: Sequence[str]) -> Any:
    """An ONNX Runtime session of ``proto`` that also returns ``names``."""
    import onnx
    import onnxruntime

    augmented = onnx.ModelProto()
    augmented.CopyFrom(proto)
    outputs = {o.name for o in augmented.graph.output}
    for name in names:
        if name not in outputs:
            augmented.graph.output.append(onnx.ValueInfoProto(name=name))
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every tensor
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(augmented.SerializeToString(), options, providers=["CPUExecutionProvider"])


def percentile_ranges(
    proto: Any,
    batches: Callable[[], Iterable[dict[str, np.ndarray]]],
    *,
    percentile: float = DEFAULT_PERCENTILE,
    bins: int = DEFAULT_BINS,
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    """Symmetric clipping threshold of every float activation: the ``percentile`` of ``|x|`` over the batches.

    Args:
        proto: The float ONNX model.
        batches: Called once per pass; returns the calibration feeds (input name -> array), batch by batch.
        percentile: Share of ``|x|`` (in percent, ``0 < percentile <= 100``) the range must hold; 100 is max |x|.
        bins: Histogram bins over ``[0, max |x|]`` per tensor (the threshold's resolution).
        names: Tensors to measure (default: :func:`float_activations`).

    Returns:
        Tensor name -> threshold ``t >= 0`` (the int8 range is ``[-t, t]``).

    Raises:
        TypeError: ``percentile`` or ``bins`` of the wrong type.
        ValueError: One out of range, no batches, or an activation that is not finite (NaN/inf in the model).
    """
    percentile = argcheck.require_percentile(percentile, "percentile")
    bins = argcheck.require_int(bins, "bins", 16)
    names = list(names) if names is not None else float_activations(proto)
    session = _session(proto, names)
    amax = dict.fromkeys(names, 0.0)
    seen = 0
    for feed in batches():
        seen += 1
        for name, value in zip(names, session.run(names, feed), strict=True):
            a = np.abs(np.asarray(value, dtype=np.float32))
            top = float(a.max(initial=0.0))
            if not np.isfinite(top):
                raise ValueError(f"calibration: activation {name!r} is not finite (NaN or inf); check the model")
            amax[name] = max(amax[name], top)
    if not seen:
        raise ValueError("calibration: no batches to measure")
    if percentile == 100:
        return amax
    counts = {name: np.zeros(bins, dtype=np.int64) for name in names if amax[name] > 0}
    for feed in batches():
        for name, value in zip(names, session.run(names, feed), strict=True):
            if name in counts:
                a = np.abs(np.asarray(value, dtype=np.float32)).ravel()
                index = np.minimum((a * np.float32(bins / amax[name])).astype(np.int64), bins - 1)
                counts[name] += np.bincount(index, minlength=bins)
    ranges = dict.fromkeys(names, 0.0)
    for name, hist in counts.items():
        cdf = np.cumsum(hist) / hist.sum()
        k = int(np.searchsorted(cdf, percentile / 100.0))  # first bin where the share reaches the percentile
        ranges[name] = min(amax[name], (k + 1) * amax[name] / bins)
    return ranges


def relu_adjusted(proto: Any, ranges: dict[str, float]) -> dict[str, float]:
    """ONNX Runtime's own adjustment, applied to our ranges: a Relu/Clip's input, read by it alone, takes the
    output's range (values the activation removes need no int8 codes)."""
    consumers: dict[str, int] = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    adjusted = dict(ranges)
    for node in proto.graph.node:
        if node.op_type in ("Relu", "Clip") and consumers.get(node.input[0]) == 1:
            if node.input[0] in adjusted and node.output[0] in adjusted:
                adjusted[node.input[0]] = adjusted[node.output[0]]
    return adjusted


def overrides(ranges: dict[str, float]) -> dict[str, list[dict[str, np.float32]]]:
    """``TensorQuantOverrides`` for ONNX Runtime's ``quantize_static``: ``[-t, t]`` per tensor."""
    return {name: [{"rmin": np.float32(-t), "rmax": np.float32(t)}] for name, t in ranges.items()}


def check_scales(qdq: Any, ranges: dict[str, float], *, qmax: int = 127) -> list[str]:
    """Activations of a Q/DQ model whose int8 scale is not ``t / qmax`` of ``ranges`` (empty: all applied).

    ONNX Runtime gives the outputs of pooling and data-movement ops (MaxPool, AveragePool, Reshape, ...) their
    input's scale, so an output scale may also be that of an input of its producing node."""
    from onnx import numpy_helper

    inits = {t.name: t for t in qdq.graph.initializer}
    # Constants (Constant nodes' outputs, e.g. hard-sigmoid's 3 and 6) keep ONNX Runtime's exact range.
    constants = set(inits) | {o for n in qdq.graph.node if n.op_type == "Constant" for o in n.output}
    dequantized = {n.output[0]: n.input[0] for n in qdq.graph.node if n.op_type == "DequantizeLinear"}
    quantized = {n.output[0]: n.input[0] for n in qdq.graph.node if n.op_type == "QuantizeLinear"}
    producer_inputs: dict[str, list[str]] = {}
    for n in qdq.graph.node:
        for o in n.output:
            # Through DQ -> Q pairs back to the float tensor each input was quantized from.
            producer_inputs[o] = [quantized.get(dequantized.get(i, ""), i) for i in n.input]

    def matches(name: str, scale: float) -> bool:
        t = ranges.get(name)
        if t is None:
            return False
        # An all-zero tensor: ONNX Runtime's scale for an empty range is 1.
        return scale in (0.0, 1.0) if t == 0 else bool(np.isclose(scale, t / qmax, rtol=1e-5, atol=0.0))

    wrong = []
    for node in qdq.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in constants or node.input[1] not in inits:
            continue
        name = node.input[0]
        scale = float(numpy_helper.to_array(inits[node.input[1]]).reshape(-1)[0])
        if not (matches(name, scale) or any(matches(i, scale) for i in producer_inputs.get(name, []))):
            wrong.append(name)
    return wrong


__all__ = [
    "DEFAULT_BINS",
    "DEFAULT_PERCENTILE",
    "check_scales",
    "float_activations",
    "overrides",
    "percentile_ranges",
    "relu_adjusted",
]
