"""Check that an ONNX file is a STAR-Net model the engine builder can take, before TensorRT sees it.

The contract (see :mod:`starnet_trt.export`): one input ``x`` float32 ``[N, C, H, W]`` with a dynamic batch axis
and ``C, H, W`` matching the preprocessing metadata; one output ``[N, T, classes]``; default-domain opset >= 16
(``GridSample``); starnet-trt ``metadata_props`` (charset and preprocessing). A model without metadata can still
be built when the caller supplies the charset (``--charset``): the preprocessing is then PaddleOCR's default for
the input's height and width.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import limits
from ..inspect_model import sha256_of
from ..limits import check_file_size
from ..metadata import KEY_CHARACTER, ModelInfo, Preprocess

MIN_OPSET = 16
INPUT_NAME = "x"


@dataclass(frozen=True)
class CheckedModel:
    """An ONNX model that passed :func:`check_onnx`.

    Attributes:
        path: The file that was checked.
        proto: The loaded model (weights included).
        info: Its metadata (from ``metadata_props``, or built from ``charset`` when the file has none).
        sha256: Hex SHA-256 of the file.
        opset: Default-domain opset.
        input_name: Name of the image input.
        input_shape: ``(C, H, W)`` of the image input.
        output_name: Name of the output.
        output_shape: Output dims after the batch axis (``None`` where symbolic).
        quantized: Whether the graph already holds QuantizeLinear/DequantizeLinear nodes (explicit INT8).
        metadata_supplied: True when ``info`` came from the caller's charset rather than the file.
    """

    path: Path
    proto: Any
    info: ModelInfo
    sha256: str
    opset: int
    input_name: str
    input_shape: tuple[int, int, int]
    output_name: str
    output_shape: tuple[int | None, ...]
    quantized: bool
    metadata_supplied: bool = False


def _dims(value_info: Any) -> list[int | str | None]:
    from ..inspect_model import shape_dims

    tensor = value_info.type.tensor_type
    return shape_dims(tensor.shape) if tensor.HasField("shape") else []


def load_onnx(path: str | os.PathLike[str]) -> Any:
    """Load an ONNX file with errors a user can act on.

    Raises:
        TypeError: ``path`` is not a path.
        FileNotFoundError: No such file. ``IsADirectoryError``: a directory.
        ValueError: The file is not a readable ONNX model.
    """
    import onnx

    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"expected an ONNX model path (str or os.PathLike), got {type(path).__name__}")
    p = Path(os.fsdecode(os.fspath(path)))  # bytes names (not UTF-8) decode like os.listdir's
    if p.is_dir():
        raise IsADirectoryError(f"expected an ONNX model file, got a directory: {str(p)!r}")
    if not p.is_file():
        raise FileNotFoundError(f"ONNX model not found: {str(p)!r}")
    check_file_size(p, limits.MAX_ONNX_BYTES, "ONNX model")
    try:
        proto = onnx.load(str(p))
    except Exception as exc:  # protobuf DecodeError, truncated files, missing external data, ...
        raise ValueError(f"{str(p)!r} is not a valid ONNX model: {exc}") from None
    if len(proto.graph.node) == 0:
        raise ValueError(f"{str(p)!r} is not a valid ONNX model: the graph has no nodes")
    return proto


def check_onnx(path: str | os.PathLike[str], *, charset: str | None = None) -> CheckedModel:
    """Load ``path`` and check it against the STAR-Net model contract.

    Args:
        path: ONNX file.
        charset: Characters of classes ``1..`` for a model without starnet-trt metadata. Ignored (must agree)
            when the model carries its own.

    Returns:
        The checked model.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not an ONNX model, wrong input/output, opset too old, missing metadata (and no ``charset``),
            or a charset that does not fit the output.

    Example:
        >>> checked = check_onnx("starnet_mv3.onnx")  # doctest: +SKIP
        >>> checked.input_shape, checked.info.charset[:10]  # doctest: +SKIP
        ((3, 32, 100), '0123456789')
    """
    import onnx

    proto = load_onnx(path)
    p = Path(os.fsdecode(os.fspath(path)))
    where = repr(str(p))
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:
        raise ValueError(f"{where}: opset {opset} is too old; the builder needs opset >= {MIN_OPSET} (GridSample)")
    initializers = {t.name for t in proto.graph.initializer}
    inputs = [v for v in proto.graph.input if v.name not in initializers]
    if len(inputs) != 1:
        raise ValueError(f"{where}: expected one input '{INPUT_NAME}', got {[v.name for v in inputs]}")
    inp = inputs[0]
    if inp.name != INPUT_NAME:
        raise ValueError(f"{where}: expected the input to be named '{INPUT_NAME}', got {inp.name!r}")
    if inp.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ValueError(f"{where}: input '{INPUT_NAME}' must be float32")
    dims = _dims(inp)
    if len(dims) != 4 or not all(isinstance(d, int) and d > 0 for d in dims[1:]):
        raise ValueError(f"{where}: input '{INPUT_NAME}' must have shape [N, C, H, W] with fixed C, H, W; got {dims}")
    if isinstance(dims[0], int) and dims[0] > 0:
        raise ValueError(
            f"{where}: input '{INPUT_NAME}' has a fixed batch size {dims[0]}; re-export it with a dynamic batch axis "
            "('starnet-trt export' does) so the engine's optimization profile can cover several batch sizes"
        )
    c, h, w = (int(d) for d in dims[1:])  # type: ignore[arg-type]
    if len(proto.graph.output) != 1:
        raise ValueError(f"{where}: expected one output, got {[v.name for v in proto.graph.output]}")
    out = proto.graph.output[0]
    out_dims = _dims(out)
    if len(out_dims) != 3:
        raise ValueError(f"{where}: output {out.name!r} must have shape [N, T, classes], got {out_dims}")

    props = {p.key: p.value for p in proto.metadata_props}
    supplied = False
    if KEY_CHARACTER in props:
        info = ModelInfo.from_props(props, source=where)
        if charset is not None and charset != info.charset:
            raise ValueError(f"{where}: --charset differs from the charset stored in the model; leave it out")
    elif charset is not None:
        channel_order = "bgr" if c == 3 else "gray"
        info = ModelInfo(
            charset=charset,
            arch=props.get("starnet.arch", "unknown"),
            preprocess=Preprocess(height=h, width=w, channels=c, channel_order=channel_order),
            extra={k: v for k, v in props.items()},
        )
        supplied = True
    else:
        raise ValueError(
            f"{where} lacks starnet-trt metadata (charset and preprocessing): export it with 'starnet-trt export', "
            "or pass --charset to supply the charset"
        )
    pre = info.preprocess
    if (pre.channels, pre.height, pre.width) != (c, h, w):
        raise ValueError(
            f"{where}: input '{INPUT_NAME}' is [N,{c},{h},{w}] but the preprocessing metadata says "
            f"[N,{pre.channels},{pre.height},{pre.width}]"
        )
    classes = out_dims[2]
    if isinstance(classes, int) and classes != info.num_classes:
        raise ValueError(
            f"{where}: output has {classes} classes but the charset has {len(info.charset)} characters + blank"
        )
    quantized = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in proto.graph.node)
    return CheckedModel(
        path=p,
        proto=proto,
        info=info,
        sha256=sha256_of(p),
        opset=opset,
        input_name=inp.name,
        input_shape=(c, h, w),
        output_name=out.name,
        output_shape=tuple(d if isinstance(d, int) else None for d in out_dims[1:]),
        quantized=quantized,
        metadata_supplied=supplied,
    )
