"""TensorRT engines (``.engine`` + sidecar ``.json``), run by the C++ predictor ``starnet_trt._trt``.

The predictor (``csrc/runtime``) takes the raw uint8 images: they are packed once into pinned memory,
resized/normalized on the GPU, run through the engine and CTC-decoded on the GPU, so only the small decoded arrays
(indices, lengths, confidences) come back. The recognizer therefore hands this backend whole images
(:meth:`TensorRTBackend.run_images`) instead of preprocessing them on the CPU.

Before any CUDA or TensorRT call the runtime checks the engine against its sidecar (format, size, sha256 of the
bytes it will deserialize, TensorRT flavour), then TensorRT's version, the GPU's compute capability and the plugin
versions; every refusal says what the engine was built for and what is here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..metadata import ModelInfo
from .base import Backend, TensorInfo

BUILD_HINT = (
    "the C++ runtime (starnet_trt._trt) is built only when the CUDA compiler (nvcc) and the TensorRT headers are "
    "found at install time; reinstall with `pip install . -C cmake.define.TensorRT_ROOT=/path/to/TensorRT` (the "
    "headers are enough: libnvinfer is loaded at run time), or run the ONNX model with backend='onnxruntime'"
)

_ONNX_TYPES = {"float32": "tensor(float)", "float16": "tensor(float16)", "int32": "tensor(int32)"}


def import_runtime() -> Any:
    """The ``starnet_trt._trt`` module.

    Raises:
        RuntimeError: This installation was built without it (the message says how to get it).
    """
    import importlib

    try:
        # import_module, not `from .. import _trt`: it honours sys.modules (a test can hide the module).
        _trt = importlib.import_module("starnet_trt._trt")
    except ImportError as exc:
        raise RuntimeError(f"the TensorRT backend is not in this build of starnet-trt ({exc}): {BUILD_HINT}") from None
    return _trt


def load_predictor(
    engine: str | os.PathLike[str],
    *,
    sidecar: str | os.PathLike[str] | None = None,
    libnvinfer: str | os.PathLike[str] | None = None,
    plugins: str | os.PathLike[str] | None = None,
    device: int = 0,
    cuda_graphs: bool = True,
) -> Any:
    """Open an engine with the C++ predictor (``starnet_trt._trt.Predictor``), for callers who want its whole API.

    The predictor runs uint8 images (a list of ``HxW``/``HxWxC`` arrays of any sizes, an ``NxHxWxC`` array, or a
    CUDA array via ``__cuda_array_interface__``/DLPack) or float32 ``NxCxHxW`` normalized input, and returns
    ``(indices [N, T] int32, lengths [N] int32, confidences [N] float32)``. It has ``recognize_async`` (returns a
    handle with ``result()``/``done()``), ``clone()`` (same engine, new context and stream: one per thread),
    ``close()`` and is a context manager. Copying it raises ``TypeError``.

    Args:
        engine: The ``.engine`` file; its sidecar is ``NAME.json`` beside it unless ``sidecar`` is given.
        libnvinfer: The TensorRT library to load (default ``$STARNET_TRT_LIBNVINFER``, then the one of the
            ``tensorrt`` pip wheels, then the loader's path).
        plugins: ``libstarnet_plugins.so`` (default ``$STARNET_TRT_PLUGINS``, then the one installed with us).
        device: CUDA device ordinal.
        cuda_graphs: Replay one CUDA graph per batch size after its first run.

    Raises:
        FileNotFoundError: The engine or its sidecar is missing.
        ValueError: The engine does not match its sidecar, this TensorRT, this GPU or the plugin library.
        RuntimeError: No TensorRT runtime in this build, TensorRT or the plugin library not installed, no GPU.

    Example:
        >>> with load_predictor("engines/starnet_mv3.engine") as p:  # doctest: +SKIP
        ...     indices, lengths, confidences = p.recognize([cv2.imread("word.png")])
    """
    path = os.fsdecode(os.fspath(engine))
    side = os.fsdecode(os.fspath(sidecar)) if sidecar is not None else _sidecar_path(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"engine not found: {path!r}")
    if not os.path.isfile(side):
        raise FileNotFoundError(f"engine sidecar not found: {side!r} (build engines with 'starnet-trt build')")
    if isinstance(device, bool) or not isinstance(device, int) or device < 0:
        raise ValueError(f"device must be a CUDA device ordinal >= 0, got {device!r}")
    trt = import_runtime()
    if libnvinfer is None and not os.environ.get("STARNET_TRT_LIBNVINFER"):
        libnvinfer = pip_libnvinfer()
    # Paths go to C++ as the file system's bytes (os.fsencode), so names that are not valid UTF-8 open too.
    return trt.Predictor(
        os.fsencode(path),
        sidecar=os.fsencode(side),
        libnvinfer=os.fsencode(libnvinfer) if libnvinfer else b"",
        plugins=os.fsencode(plugins) if plugins is not None else b"",
        device=device,
        cuda_graphs=bool(cuda_graphs),
    )


def pip_libnvinfer() -> str | None:
    """libnvinfer from the ``tensorrt`` pip wheels (package ``tensorrt_libs``), which are not on the loader's path
    unless ``import tensorrt`` loaded them already; ``None`` when that package is not installed."""
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec("tensorrt_libs")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        found = sorted(Path(folder).glob("libnvinfer.so.*"))
        if found:
            return str(found[0])
    return None


def _sidecar_path(engine: str) -> str:
    from ..builder import sidecar_path_of

    return str(sidecar_path_of(engine))


class TensorRTBackend(Backend):
    """A starnet-trt TensorRT engine run by the C++ predictor; decodes on the GPU.

    Args:
        path: The ``.engine`` file (its sidecar ``.json`` beside it).
        max_batch: Images per :meth:`run_images` call the recognizer makes (larger batches are split by the
            predictor at the engine profile's max anyway).
        **predictor: Passed to :func:`load_predictor`.
    """

    name = "tensorrt"
    decodes_on_device = True

    def __init__(self, path: str, *, max_batch: int, **predictor: Any) -> None:
        self._path = path
        self._predictor: Any = None
        self._predictor = load_predictor(path, **predictor)
        import json

        with open(_sidecar_path(path), encoding="utf-8") as f:
            self._sidecar = json.load(f)  # already checked by the predictor (format, sha256 of the engine)
        info = self._predictor.info.as_dict()
        self._info = info
        self.metadata = ModelInfo.from_props(self._sidecar["metadata"], source=os.path.basename(path))
        self.max_batch = max_batch
        c, h, w = info["input_shape"]
        self._inputs = [TensorInfo(info["input_name"], ("N", c, h, w), "tensor(float)")]
        self._outputs = [
            TensorInfo(o["name"], tuple("N" if d == -1 else d for d in o["shape"]), _ONNX_TYPES.get(o["dtype"], "?"))
            for o in self._sidecar.get("outputs", [])
        ]
        self._input_buffer = np.zeros((max_batch, c, h, w), np.float32)

    @property
    def predictor(self) -> Any:
        """The underlying ``starnet_trt._trt.Predictor`` (see :func:`load_predictor`)."""
        self._check_open()
        return self._predictor

    @property
    def engine_info(self) -> dict[str, Any]:
        """The sidecar as the runtime read it: profile, TensorRT version, compute capabilities, plugins, ..."""
        return dict(self._info)

    @property
    def providers(self) -> list[str]:
        self._check_open()
        return [f"TensorRT {self._info['tensorrt_version']}"]

    def _check_open(self) -> None:
        if self._predictor is None:
            raise RuntimeError("this recognizer has been closed")

    def run_images(self, images: Sequence[np.ndarray] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Recognize uint8 BGR images (a list of arrays of any sizes, or an ``NxHxWxC`` array) on the GPU.

        Returns:
            ``indices [N, T]`` int32 (-1 padded), ``lengths [N]`` int32, ``confidences [N]`` float32.
        """
        self._check_open()
        if isinstance(images, np.ndarray):
            return self._predictor.recognize(images)
        return self._predictor.recognize(list(images))

    def input_buffer(self, n: int) -> np.ndarray:
        self._check_open()
        return self._input_buffer[:n]

    def run(self, n: int) -> np.ndarray:
        """Not available: engines decode on the GPU and never return scores (see :meth:`run_normalized`)."""
        raise NotImplementedError(
            "TensorRT engines are decoded on the GPU and return no scores; use run_images() or run_normalized()"
        )

    def run_normalized(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the first ``n`` rows of :meth:`input_buffer` (already normalized) and decode them on the GPU."""
        self._check_open()
        if not 1 <= n <= self._input_buffer.shape[0]:
            raise ValueError(f"batch of {n} images is outside 1..{self._input_buffer.shape[0]}")
        return self._predictor.recognize(self._input_buffer[:n])

    def close(self) -> None:
        if self._predictor is not None:
            self._predictor.close()
            self._predictor = None


def open_tensorrt_backend(path: str, *, max_batch: int, **predictor: Any) -> TensorRTBackend:
    """Open a TensorRT engine for the recognizer (see :class:`TensorRTBackend` and :func:`load_predictor`)."""
    return TensorRTBackend(path, max_batch=max_batch, **predictor)
