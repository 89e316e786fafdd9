"""TensorRT engines (``.engine`` + sidecar ``.json``), run by the C++ predictor.

The predictor (``starnet_trt._core`` built with TensorRT) has not landed yet. Until it does, opening an
engine fails loudly instead of falling back to something that is not the engine the user asked for.
"""

from __future__ import annotations

from typing import NoReturn


def open_tensorrt_backend(path: str, *, max_batch: int) -> NoReturn:
    """Open a TensorRT engine for the recognizer.

    Raises:
        RuntimeError: Always, for now: this build has no TensorRT predictor.
    """
    del max_batch  # the predictor will size its buffers with it
    raise RuntimeError(
        f"the TensorRT backend needs the starnet-trt C++ predictor built with TensorRT, which this build of "
        f"starnet-trt does not include, so {path!r} cannot be run; use the ONNX model with backend='onnxruntime'"
    )
