"""Inference backends behind :class:`starnet_trt.recognizer.Recognizer`.

``open_backend`` picks one from the model file's suffix (``.onnx`` -> ONNX Runtime, ``.engine`` -> TensorRT)
or from an explicit name; ``"openvino"`` (OpenVINO on the CPU, float32 or bfloat16) is only ever chosen by name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .base import Backend, TensorInfo

BACKEND_NAMES = ("auto", "onnxruntime", "openvino", "tensorrt")

#: Backends that take an ONNX model (the others take a TensorRT engine).
ONNX_BACKENDS = ("onnxruntime", "openvino")


def resolve_backend_name(path: str, backend: str) -> str:
    """The concrete backend for ``path``: ``backend`` itself, or the one its suffix implies for ``"auto"``.

    Raises:
        ValueError: Unknown ``backend``, or ``"auto"`` with a suffix other than ``.onnx``/``.engine``/``.plan``.
    """
    if backend not in BACKEND_NAMES:
        raise ValueError(f"backend must be one of {list(BACKEND_NAMES)}, got {backend!r}")
    if backend != "auto":
        return backend
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".onnx":
        return "onnxruntime"
    if suffix in (".engine", ".plan", ".trt"):
        return "tensorrt"
    raise ValueError(
        f"cannot tell the backend from the file name {path!r}: expected a '.onnx' or '.engine' file, "
        f"or pass backend='onnxruntime', 'openvino' or 'tensorrt'"
    )


def open_backend(
    path: str,
    backend: str,
    *,
    max_batch: int,
    num_threads: int = 0,
    providers: Sequence[str | tuple[str, dict[str, Any]]] | None = None,
    precision: str | None = None,
) -> Backend:
    """Load ``path`` with the named backend (see :func:`resolve_backend_name`).

    ``precision`` (``"fp32"``, ``"bf16"``, ``"fp16"``) is OpenVINO's inference precision; the other backends
    run the precision of their file (a TensorRT engine's is chosen by ``starnet-trt build``), so for them it
    must be ``None`` (or ``"fp32"`` for ONNX Runtime).
    """
    name = resolve_backend_name(path, backend)
    if providers is not None and name != "onnxruntime":
        raise ValueError(
            f"providers are ONNX Runtime execution providers; the {name} backend has none (got {list(providers)!r})"
        )
    if precision is not None and not isinstance(precision, str):
        raise TypeError(f"precision must be a string or None, got {type(precision).__name__}")
    if name == "openvino":
        from .openvino_backend import OpenVinoBackend

        return OpenVinoBackend(path, max_batch=max_batch, num_threads=num_threads, precision=precision)
    if precision is not None and not (name == "onnxruntime" and precision.lower() in ("fp32", "f32")):
        raise ValueError(
            f"precision={precision!r} applies to the openvino backend only: ONNX Runtime runs the model's own "
            f"float32 and a TensorRT engine's precision is fixed when it is built (starnet-trt build --fp16/--int8)"
        )
    if name == "tensorrt":
        from .tensorrt_backend import open_tensorrt_backend

        return open_tensorrt_backend(path, max_batch=max_batch)
    from .onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(path, max_batch=max_batch, num_threads=num_threads, providers=providers)


__all__ = ["BACKEND_NAMES", "ONNX_BACKENDS", "Backend", "TensorInfo", "open_backend", "resolve_backend_name"]
