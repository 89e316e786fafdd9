"""ONNX models run with ONNX Runtime, through IOBinding over preallocated NumPy buffers.

The recognizer writes each preprocessed batch into :meth:`OnnxRuntimeBackend.input_buffer`; ``run`` binds
that memory as the model input and a second preallocated buffer as the output, so ONNX Runtime reads and
writes our arrays in place (with a CUDA provider it copies host<->device itself).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..metadata import ModelInfo
from .base import Backend, TensorInfo, check_model_io, score_output
from .int8_cpu import warn_if_saturating

logger = logging.getLogger(__name__)

# Preferred order when the caller does not choose: TensorRT EP, then CUDA EP, then CPU.
_AUTO_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - onnxruntime is a core dependency
        raise RuntimeError("the onnxruntime backend needs ONNX Runtime: pip install onnxruntime") from exc
    return onnxruntime


def default_providers() -> list[str]:
    """Execution providers used when none are given: GPU ones available in this ONNX Runtime, then CPU."""
    ort = _import_onnxruntime()
    available = set(ort.get_available_providers())
    return [p for p in _AUTO_PROVIDERS if p in available] or ["CPUExecutionProvider"]


class OnnxRuntimeBackend(Backend):
    """A STAR-Net ONNX model in an ONNX Runtime session.

    Args:
        path: The ``.onnx`` file (must exist; the caller resolves it).
        max_batch: Largest batch per :meth:`run`; sizes the preallocated buffers.
        num_threads: ONNX Runtime intra-op threads, 0 for its default.
        providers: Execution providers as ``InferenceSession`` takes them, or ``None`` for
            :func:`default_providers`.

    Raises:
        ValueError: The file is not a loadable ONNX model, lacks starnet-trt metadata, or its inputs/outputs do
            not match the metadata (input ``[N, C, H, W]`` float32, output ``[N, T, len(charset) + 1]``).
    """

    name = "onnxruntime"
    #: Rows per session run on the CPU provider (see ``__init__``).
    CPU_RUN_ROWS = 32

    def __init__(
        self,
        path: str,
        *,
        max_batch: int,
        num_threads: int = 0,
        providers: Sequence[str | tuple[str, dict[str, Any]]] | None = None,
    ) -> None:
        ort = _import_onnxruntime()
        self._path = path
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        # ORT's default (worker threads spin briefly between runs) is kept: with the recognizer's pre/post-
        # processing on the calling thread it is the fastest setting (IIIT5K test, batch 32, 2 cores: 846 img/s
        # against 810 with spinning off; with multi-threaded pre/post, spinning cost 2-3x on pre/post instead).
        # Tried on 2026-12-07 and not kept: running the TPS sampler in the C++ core (the plugin's CPU twin, 2.5x
        # faster than ORT's grid MatMul + GridSample, which are 10.5% of the bundled model's time at batch 32)
        # between a localization session and a recognition session. In the recognizer's pipeline (IIIT5K test,
        # batch 32, 2-core Zen 4, alternating passes) it measured 0.98-1.04x; cutting the graph needs `import onnx`
        # (0.6 s: ml_dtypes); and with the first session's workers spinning it fell to 0.55x.
        chosen = list(providers) if providers is not None else default_providers()
        try:
            self._session = ort.InferenceSession(path, sess_options=options, providers=chosen)
        except Exception as exc:  # ORT raises its own exception types (InvalidProtobuf, Fail, ...)
            raise ValueError(f"cannot load ONNX model {path!r}: {exc}") from None
        logger.info("loaded %s with providers %s", path, self._session.get_providers())
        try:
            props = self._session.get_modelmeta().custom_metadata_map
        except UnicodeDecodeError as exc:  # metadata strings that are not UTF-8 (a corrupt or hostile file)
            raise ValueError(f"cannot load ONNX model {path!r}: metadata is not UTF-8 ({exc.reason})") from None
        self.metadata = ModelInfo.from_props(props, source=os.path.basename(path))
        self._inputs = [TensorInfo(a.name, tuple(a.shape), a.type) for a in self._session.get_inputs()]
        self._outputs = [TensorInfo(a.name, tuple(a.shape), a.type) for a in self._session.get_outputs()]
        self._check_io()
        self.max_batch = self._resolve_max_batch(max_batch)

        pre = self.metadata.preprocess
        self._in_name = self._inputs[0].name
        self._out_name = self._output().name
        self._in_buf = np.zeros((self.max_batch, pre.channels, pre.height, pre.width), np.float32)
        self._out_buf: np.ndarray | None = None
        self._bindings: dict[tuple[int, int], Any] = {}
        # On the CPU a session runs big batches in slices of CPU_RUN_ROWS: the activations of 32 images stay in
        # cache, those of 128 do not (bundled model, 2-core Zen 4: 848 img/s in slices of 32 against 699 for one
        # run of 128; 16 and 32 are equal). GPU providers get the whole batch.
        # A model with a fixed batch dimension always runs whole (rows past n are stale and ignored).
        cpu_only = self._session.get_providers() == ["CPUExecutionProvider"]
        if cpu_only and "starnet.quantization" in props:
            # Measured on the bundled model (2-core Zen 4, one side-by-side run, docs/bench_cpu_int8.json): its Q/DQ
            # file at 0.46-0.55x the float one's images/s up to batch 32 and 0.31x at 128; OpenVINO ran it at 1.68x
            # at batch 32.
            logger.warning(
                "%s is an INT8 Q/DQ model: ONNX Runtime's CPU provider runs such files slower than the float model "
                "(half its speed or less for the bundled one); backend='openvino' runs it in int8 "
                "(pip install 'starnet-trt[openvino]')",
                os.path.basename(path),
            )
        if cpu_only:
            warn_if_saturating(path, props, logger)
        self._fixed_batch = isinstance(self._inputs[0].shape[0], int)
        self._run_rows = self.CPU_RUN_ROWS if cpu_only and not self._fixed_batch else self.max_batch
        steps, classes = self._output().shape[1:]
        if not (isinstance(steps, int) and isinstance(classes, int)):
            # TorchScript exports often leave T symbolic although the fixed input width fixes it: learn the output
            # shape from one run (ORT-allocated output), then bind our own buffer like for a fully static model.
            steps, classes = self.run(1).shape[1:]
            self._bindings.clear()
        self._out_buf = np.zeros((self.max_batch, steps, classes), np.float32)

    # -- model description -------------------------------------------------------------------------------------

    @property
    def providers(self) -> list[str]:
        self._check_open()
        return list(self._session.get_providers())

    def _output(self) -> TensorInfo:
        return score_output(self._outputs)

    def _check_io(self) -> None:
        check_model_io(os.path.basename(self._path), self._inputs, self._output(), self.metadata)

    def _resolve_max_batch(self, requested: int) -> int:
        batch_dim = self._inputs[0].shape[0]
        if isinstance(batch_dim, int) and batch_dim != requested:
            logger.warning(
                "%s has a fixed batch size of %d; running batches of %d instead of %d",
                os.path.basename(self._path),
                batch_dim,
                batch_dim,
                requested,
            )
            return batch_dim
        return requested

    # -- running -----------------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._session is None:
            raise RuntimeError("this recognizer has been closed")

    def input_buffer(self, n: int) -> np.ndarray:
        self._check_open()
        return self._in_buf[:n]

    def _binding(self, start: int, n: int) -> Any:
        key = (start, n)
        binding = self._bindings.get(key)
        if binding is not None:
            return binding
        binding = self._session.io_binding()
        c, h, w = self._in_buf.shape[1:]
        # Rows start..start+n of a C-contiguous buffer are contiguous memory: bind it directly.
        in_ptr = self._in_buf.ctypes.data + start * self._in_buf[0].nbytes
        binding.bind_input(self._in_name, "cpu", 0, np.float32, [n, c, h, w], in_ptr)
        if self._out_buf is not None:
            t, k = self._out_buf.shape[1:]
            out_ptr = self._out_buf.ctypes.data + start * self._out_buf[0].nbytes
            binding.bind_output(self._out_name, "cpu", 0, np.float32, [n, t, k], out_ptr)
        else:
            binding.bind_output(self._out_name, "cpu")
        self._bindings[key] = binding
        return binding

    def run(self, n: int) -> np.ndarray:
        self._check_open()
        if not 1 <= n <= self.max_batch:
            raise ValueError(f"batch of {n} images is outside 1..{self.max_batch}")
        rows = self.max_batch if self._fixed_batch else n
        if self._out_buf is not None:
            for start in range(0, rows, self._run_rows):
                self._session.run_with_iobinding(self._binding(start, min(self._run_rows, rows - start)))
            return self._out_buf[:n]
        binding = self._binding(0, rows)
        self._session.run_with_iobinding(binding)
        scores = binding.copy_outputs_to_cpu()[0]
        if scores.shape[2] != self.metadata.num_classes:
            raise ValueError(
                f"{os.path.basename(self._path)}: output has {scores.shape[2]} classes, the metadata charset needs "
                f"{self.metadata.num_classes}"
            )
        return scores[:n]

    def close(self) -> None:
        self._bindings.clear()
        self._session = None
