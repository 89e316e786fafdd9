"""Describe a model file: inputs, outputs, opset, starnet-trt metadata, size and checksum.

Works on any ONNX file, including ones without starnet-trt metadata (that is what you inspect when a model
refuses to load); the reason the metadata is unusable is reported instead of raised.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from .metadata import ModelInfo


def sha256_of(path: str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def shape_dims(shape: Any) -> list[int | str | None]:
    """ONNX ``TensorShapeProto`` dims: ints for fixed, names for symbolic, ``None`` for unknown."""
    dims: list[int | str | None] = []
    for d in shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dims


def _value_infos(values: Any) -> list[dict[str, Any]]:
    import onnx

    out = []
    for v in values:
        tensor = v.type.tensor_type
        out.append(
            {
                "name": v.name,
                "type": f"tensor({onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)})"
                if tensor.elem_type
                else "unknown",
                "shape": shape_dims(tensor.shape) if tensor.HasField("shape") else None,
            }
        )
    return out


def count_flops(model: Any) -> dict[str, int]:
    """Floating-point operations per image of an ONNX model's matrix work, by op type (a multiply-add is 2).

    Counts ``Conv`` (grouped too), ``Gemm``, ``MatMul`` and ``LSTM``/``GRU``, which hold nearly all of a
    recognition model's arithmetic; element-wise ops, pooling and ``GridSample`` are left out. Shapes come from
    ONNX shape inference with the batch fixed to 1, so a ``MatMul`` whose shapes cannot be inferred is skipped.
    This is what a roofline needs: images/s times FLOPs per image over the machine's measured peak.
    """
    import onnx
    from onnx import numpy_helper

    proto = onnx.ModelProto()
    proto.CopyFrom(model)
    for value in proto.graph.input:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    try:
        proto = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except Exception:  # a model shape inference cannot follow: count what has static shapes
        pass
    shapes: dict[str, list[int]] = {}
    for v in [*proto.graph.input, *proto.graph.value_info, *proto.graph.output]:
        dims = shape_dims(v.type.tensor_type.shape)
        if dims and all(isinstance(d, int) for d in dims):
            shapes[v.name] = dims  # type: ignore[assignment]
    for init in proto.graph.initializer:
        shapes[init.name] = list(init.dims)
    for node in proto.graph.node:  # Constant nodes feeding weights
        if node.op_type == "Constant" and node.attribute and node.attribute[0].HasField("t"):
            shapes[node.output[0]] = list(numpy_helper.to_array(node.attribute[0].t).shape)

    def prod(values: list[int]) -> int:
        out = 1
        for v in values:
            out *= int(v)
        return out

    flops: dict[str, int] = {}
    for node in proto.graph.node:
        ins = [shapes.get(name) for name in node.input]
        out = shapes.get(node.output[0]) if node.output else None
        count = 0
        if node.op_type == "Conv" and out and len(ins) > 1 and ins[1]:
            count = 2 * prod(out) * prod(ins[1][1:])  # weight [M, C/group, kh, kw]
        elif node.op_type == "Gemm" and out and ins[0]:
            trans_a = next((a.i for a in node.attribute if a.name == "transA"), 0)
            count = 2 * prod(out) * ins[0][0 if trans_a else 1]
        elif node.op_type == "MatMul" and out and ins[0]:
            count = 2 * prod(out) * ins[0][-1]
        elif node.op_type in ("LSTM", "GRU") and len(ins) > 2 and ins[0] and ins[1] and ins[2]:
            # W [dirs, gates*H, I], R [dirs, gates*H, H]; X [T, N, I] (layout 0) or [N, T, I]
            layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
            steps, batch = (ins[0][0], ins[0][1]) if layout == 0 else (ins[0][1], ins[0][0])
            count = 2 * steps * batch * (prod(ins[1]) + prod(ins[2]))
        if count:
            flops[node.op_type] = flops.get(node.op_type, 0) + count
    return flops


def inspect_model(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON-ready description of an ONNX model file.

    Keys: ``path``, ``size_bytes``, ``sha256``, ``ir_version``, ``opset`` (domain -> version, ``""`` is the
    default domain), ``producer``, ``inputs``/``outputs`` (name, type, shape), ``metadata`` (raw
    ``metadata_props``), ``model_info`` (parsed starnet-trt metadata or ``None``), ``model_info_error`` and
    ``flops_per_image`` (:func:`count_flops`, by op type).

    Raises:
        TypeError: ``path`` is not a path.
        FileNotFoundError: The file does not exist. ``IsADirectoryError``: it is a directory.
        ValueError: The file is not an ONNX model (TensorRT engines are not inspectable yet).

    Example:
        >>> inspect_model("starnet_mv3.onnx")["opset"]  # doctest: +SKIP
        {'': 17}
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"expected a model path (str or os.PathLike), got {type(path).__name__}")
    fspath = os.fsdecode(os.fspath(path))
    if os.path.isdir(fspath):
        raise IsADirectoryError(f"expected a model file, got a directory: {fspath!r}")
    if not os.path.exists(fspath):
        raise FileNotFoundError(f"model file not found: {fspath!r}")
    if os.path.splitext(fspath)[1].lower() in (".engine", ".plan", ".trt"):
        raise ValueError(
            f"{fspath!r} is a TensorRT engine; inspecting engines needs the TensorRT predictor, which this build "
            "lacks (its sidecar .json describes it)"
        )
    import onnx

    try:
        model = onnx.load(fspath, load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError and friends
        raise ValueError(f"{fspath!r} is not a readable ONNX model: {exc}") from None
    if not model.graph.node and not model.graph.input:
        raise ValueError(f"{fspath!r} is not a readable ONNX model: it has an empty graph")
    props = {p.key: p.value for p in model.metadata_props}
    initializers = {i.name for i in model.graph.initializer}
    info: dict[str, Any] = {
        "path": fspath,
        "size_bytes": os.path.getsize(fspath),
        "sha256": sha256_of(fspath),
        "ir_version": int(model.ir_version),
        "opset": {o.domain: int(o.version) for o in model.opset_import},
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": _value_infos(i for i in model.graph.input if i.name not in initializers),
        "outputs": _value_infos(model.graph.output),
        "metadata": props,
        "model_info": None,
        "model_info_error": None,
        "flops_per_image": count_flops(model),
    }
    try:
        parsed = ModelInfo.from_props(props, source=os.path.basename(fspath))
    except ValueError as exc:
        info["model_info_error"] = str(exc)
    else:
        info["model_info"] = {
            "arch": parsed.arch,
            "charset": parsed.charset,
            "num_classes": parsed.num_classes,
            "blank_index": parsed.blank_index,
            "output": parsed.output,
            "preprocess": json.loads(parsed.preprocess.to_json()),
        }
    return info


def _quantization_line(raw: str) -> str:
    """One line for a Q/DQ model's ``starnet.quantization`` record (raw text if it is not the record we write)."""
    try:
        q = json.loads(raw)
        method = q["method"] + (f" {q['percentile']:g}" if "percentile" in q else "")
        return (
            f"int8 Q/DQ, {method} ranges from {q['calibration_images']} images of {q['calibration_source']}, "
            f"{q['float_nodes']} nodes kept float"
        )
    except (ValueError, TypeError, KeyError):
        return f"int8 Q/DQ ({raw[:200]})"


def format_inspection(info: dict[str, Any]) -> str:
    """Human-readable text for :func:`inspect_model`'s result."""

    def tensor_line(t: dict[str, Any]) -> str:
        shape = "?" if t["shape"] is None else "[" + ", ".join("?" if d is None else str(d) for d in t["shape"]) + "]"
        return f"  {t['name']}: {t['type']} {shape}"

    opsets = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in sorted(info["opset"].items()))
    lines = [
        f"file:      {info['path']}",
        f"size:      {info['size_bytes']} bytes",
        f"sha256:    {info['sha256']}",
        f"ir:        {info['ir_version']}   opset: {opsets}   producer: {info['producer'] or '?'}",
        "inputs:",
        *(tensor_line(t) for t in info["inputs"]),
        "outputs:",
        *(tensor_line(t) for t in info["outputs"]),
    ]
    mi = info["model_info"]
    if mi is None:
        lines.append(f"metadata:  unusable: {info['model_info_error']}")
    else:
        pre = mi["preprocess"]
        lines += [
            f"arch:      {mi['arch']}",
            f"charset:   {mi['charset']!r} ({mi['num_classes']} classes with blank {mi['blank_index']})",
            f"output:    {mi['output']}",
            f"input:     {pre['channels']}x{pre['height']}x{pre['width']} {pre['channel_order']}, "
            f"(x * {pre['scale']:.6g} - {pre['mean']}) / {pre['std']}, {pre['resize']}",
        ]
    quantization = info["metadata"].get("starnet.quantization")
    if quantization is not None:
        lines.append(f"precision: {_quantization_line(quantization)}")
    flops = info.get("flops_per_image") or {}
    if flops:
        parts = ", ".join(f"{op} {n / 1e6:.1f}" for op, n in sorted(flops.items(), key=lambda kv: -kv[1]))
        lines.append(f"work:      {sum(flops.values()) / 1e6:.1f} MFLOP per image ({parts})")
    other = {k: v for k, v in info["metadata"].items() if k != "character" and not k.startswith("starnet.")}
    lines += [f"meta:      {k} = {v}" for k, v in sorted(other.items())]
    return "\n".join(lines)
