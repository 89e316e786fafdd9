"""ONNX models run with OpenVINO on the CPU, in float32 or, where the CPU has the instructions, bfloat16.

Why a second CPU backend: ONNX Runtime already runs this model's float32 convolutions at about two thirds of the
machine's float32 GEMM peak, so no pipeline around it can go much faster; bfloat16 arithmetic (AVX512-BF16 on AMD
Zen 4 and Intel Cooper Lake+, AMX on Sapphire Rapids+) halves the work, and OpenVINO is the CPU runtime that uses
it on x86. ``precision="fp32"`` (default) gives ONNX Runtime's texts; ``"bf16"`` runs about 1.9x faster at equal
word accuracy but changes some low-confidence texts (README, "Throughput on the CPU", has the figures).

Two compiled models share one OpenVINO core: a latency one (all threads on one request) for small batches and a
throughput one (one stream per group of cores, the batch split across them) for batches of at least two images
per stream; the second is compiled only when ``max_batch`` allows such batches. Both read the backend's input
buffer and write its output buffer in place (``ov.Tensor`` over NumPy memory), like ONNX Runtime's IOBinding.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..metadata import ModelInfo
from .base import Backend, TensorInfo, check_model_io, score_output

#: Accepted ``precision`` spellings -> OpenVINO's ``INFERENCE_PRECISION_HINT`` and the CPU capability it needs.
PRECISIONS = {
    "fp32": ("f32", "FP32"),
    "f32": ("f32", "FP32"),
    "bf16": ("bf16", "BF16"),
    "fp16": ("f16", "FP16"),
    "f16": ("f16", "FP16"),
}

# OpenVINO element types as ONNX Runtime spells them (TensorInfo.type), for the shared I/O check.
_TYPE_NAMES = {"f32": "tensor(float)", "f16": "tensor(float16)", "i64": "tensor(int64)", "i32": "tensor(int32)"}


def _import_openvino() -> Any:
    try:
        import openvino
    except ImportError as exc:
        raise RuntimeError(
            "the openvino backend needs OpenVINO: pip install 'starnet-trt[openvino]' (or pip install openvino)"
        ) from exc
    return openvino


def _tensor_info(port: Any) -> TensorInfo:
    shape = tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape())
    names = port.get_names()
    name = port.get_any_name() if names else ""
    return TensorInfo(
        name, shape, _TYPE_NAMES.get(port.get_element_type().get_type_name(), str(port.get_element_type()))
    )


def cpu_capabilities(core: Any) -> list[str]:
    """OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of the CPU (``"FP32"``, ``"BF16"``, ``"FP16"``, ``"INT8"``...)."""
    return list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def _model_props(path: str) -> dict[str, str]:
    import onnx

    try:
        proto = onnx.load(path, load_external_data=False)
    except Exception as exc:  # DecodeError, OSError, ...: not an ONNX file
        raise ValueError(f"cannot load ONNX model {path!r}: {exc}") from None
    return {p.key: p.value for p in proto.metadata_props}


class OpenVinoBackend(Backend):
    """A STAR-Net ONNX model compiled by OpenVINO for the CPU.

    Args:
        path: The ``.onnx`` file (must exist; the caller resolves it).
        max_batch: Largest batch per :meth:`run`; sizes the preallocated buffers.
        num_threads: Inference threads, 0 for OpenVINO's default (all cores).
        precision: ``"fp32"`` (default), ``"bf16"`` or ``"fp16"``: OpenVINO's inference precision. Reduced
            precisions need the CPU instructions for them; the message says which this CPU has.

    Raises:
        RuntimeError: OpenVINO is not installed.
        ValueError: The file is not a loadable ONNX model, lacks starnet-trt metadata or disagrees with it, or
            the precision is unknown or unsupported by this CPU.
    """

    name = "openvino"
    #: Most rows one throughput request runs at a time (see :meth:`run`).
    REQUEST_ROWS = 16
    #: Smallest batch split across the throughput streams (and the smallest max_batch that compiles them).
    MIN_SPLIT_BATCH = 4

    def __init__(self, path: str, *, max_batch: int, num_threads: int = 0, precision: str | None = None) -> None:
        ov = _import_openvino()
        self._ov = ov
        self._path = path
        source = os.path.basename(path)
        key = "fp32" if precision is None else precision
        if not isinstance(key, str) or key.lower() not in PRECISIONS:
            raise ValueError(f"precision must be one of 'fp32', 'bf16', 'fp16' for the openvino backend, got {key!r}")
        hint, capability = PRECISIONS[key.lower()]
        self._core = ov.Core()
        capabilities = cpu_capabilities(self._core)
        if capability not in capabilities:
            raise ValueError(
                f"precision {key!r} needs a CPU with {capability} support (AVX512-BF16 or AMX for bf16, AVX512-FP16 "
                f"or ARM fp16 for fp16); this CPU offers {capabilities}"
            )
        self.precision = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}[hint]
        props = _model_props(path)
        try:
            self._model = self._core.read_model(path)
        except Exception as exc:  # OpenVINO raises RuntimeError/GeneralFailure subclasses
            raise ValueError(f"cannot load ONNX model {path!r} with OpenVINO: {exc}") from None
        self.metadata = ModelInfo.from_props(props, source=source)
        self._inputs = [_tensor_info(p) for p in self._model.inputs]
        self._outputs = [_tensor_info(p) for p in self._model.outputs]
        out = score_output(self._outputs)
        check_model_io(source, self._inputs, out, self.metadata)
        self._out_index = self._outputs.index(out)
        self.max_batch = self._resolve_max_batch(max_batch)
        self._config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": hint}
        if num_threads > 0:
            self._config["INFERENCE_NUM_THREADS"] = num_threads
        try:
            self._latency = self._core.compile_model(
                self._model, "CPU", {**self._config, "PERFORMANCE_HINT": "LATENCY"}
            )
        except Exception as exc:
            raise ValueError(f"OpenVINO cannot compile {source}: {exc}") from None
        self._request = self._latency.create_infer_request()
        self._throughput: Any = None  # (compiled model, requests); see below

        pre = self.metadata.preprocess
        self._in_buf = np.zeros((self.max_batch, pre.channels, pre.height, pre.width), np.float32)
        steps, classes = out.shape[1:]
        if not (isinstance(steps, int) and isinstance(classes, int)):
            # Exports often leave T symbolic though the fixed input width fixes it: learn it from one run.
            self._request.infer({0: self._in_buf[:1]})
            steps, classes = self._request.get_output_tensor(self._out_index).data.shape[1:]
        self._out_buf = np.zeros((self.max_batch, steps, classes), np.float32)
        if self.max_batch >= self.MIN_SPLIT_BATCH and not isinstance(self._inputs[0].shape[0], int):
            # Compiled now rather than on the first big batch, so no call pays the compile (0.1-0.3 s).
            self._throughput_requests()

    # -- model description -------------------------------------------------------------------------------------

    @property
    def providers(self) -> list[str]:
        self._check_open()
        return [f"OpenVINO CPU {self.precision}"]

    def _resolve_max_batch(self, requested: int) -> int:
        batch_dim = self._inputs[0].shape[0]
        return batch_dim if isinstance(batch_dim, int) else requested

    # -- running -----------------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._model is None:
            raise RuntimeError("this recognizer has been closed")

    def input_buffer(self, n: int) -> np.ndarray:
        self._check_open()
        return self._in_buf[:n]

    def _bind(self, request: Any, start: int, stop: int) -> None:
        ov = self._ov
        request.set_input_tensor(0, ov.Tensor(self._in_buf[start:stop], shared_memory=True))
        request.set_output_tensor(self._out_index, ov.Tensor(self._out_buf[start:stop], shared_memory=True))

    def _throughput_requests(self) -> list[Any]:
        if self._throughput is None:
            compiled = self._core.compile_model(self._model, "CPU", {**self._config, "PERFORMANCE_HINT": "THROUGHPUT"})
            count = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
            self._throughput = (compiled, [compiled.create_infer_request() for _ in range(max(1, count))])
        return self._throughput[1]

    def run(self, n: int) -> np.ndarray:
        self._check_open()
        if not 1 <= n <= self.max_batch:
            raise ValueError(f"batch of {n} images is outside 1..{self.max_batch}")
        fixed = isinstance(self._inputs[0].shape[0], int)  # a fixed batch dimension: always run max_batch rows
        requests = [] if fixed or n < self.MIN_SPLIT_BATCH else self._throughput_requests()
        if len(requests) > 1 and n >= 2 * len(requests):
            # Rounds of one slice per stream, each request reading and writing its rows of the shared buffers.
            # Slices of at most REQUEST_ROWS keep activations in cache (bundled model, 2-core Zen 4, batch 128:
            # bf16 1594 img/s in slices of 16 against 1487 in two of 64; fp32 899 against 774).
            per = min(self.REQUEST_ROWS, -(-n // len(requests)))
            slices = [(start, min(start + per, n)) for start in range(0, n, per)]
            for first in range(0, len(slices), len(requests)):
                # The last round may have fewer slices than requests.
                active = list(zip(requests, slices[first : first + len(requests)], strict=False))
                for request, (start, stop) in active:
                    self._bind(request, start, stop)
                    request.start_async()
                for request, _ in active:
                    request.wait()
        else:
            self._bind(self._request, 0, self.max_batch if fixed else n)
            self._request.infer()
        return self._out_buf[:n]

    def close(self) -> None:
        self._request = None
        self._throughput = None
        self._latency = None
        self._model = None
