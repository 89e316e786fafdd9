"""Inference backends behind :class:`starnet_trt.recognizer.Recognizer`.

``open_backend`` picks one from the model file's suffix (``.onnx`` -> ONNX Runtime, ``.engine`` -> TensorRT)
or from an explicit name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .base import Backend, TensorInfo

BACKEND_NAMES = ("auto", "onnxruntime", "tensorrt")


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
        f"or pass backend='onnxruntime' or backend='tensorrt'"
    )


def open_backend(
    path: str,
    backend: str,
    *,
    max_batch: int,
    num_threads: int = 0,
    providers: Sequence[str | tuple[str, dict[str, Any]]] | None = None,
) -> Backend:
    """Load ``path`` with the named backend (see :func:`resolve_backend_name`)."""
    name = resolve_backend_name(path, backend)
    if name == "tensorrt":
        from .tensorrt_backend import open_tensorrt_backend

        return open_tensorrt_backend(path, max_batch=max_batch)
    from .onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(path, max_batch=max_batch, num_threads=num_threads, providers=providers)


__all__ = ["BACKEND_NAMES", "Backend", "TensorInfo", "open_backend", "resolve_backend_name"]
