"""ONNX models run with OpenVINO on the CPU, in float32 or, where the CPU has the instructions, bfloat16.

Why a second CPU backend: ONNX Runtime already runs this model's float32 convolutions at about two thirds of the
machine's float32 GEMM peak, so no pipeline around it can go much faster; bfloat16 arithmetic (AVX512-BF16 on AMD
Zen 4 and Intel Cooper Lake+, AMX on Sapphire Rapids+) halves the work, and OpenVINO is the CPU runtime that uses
it on x86. ``precision="fp32"`` (default) gives ONNX Runtime's texts; ``"bf16"`` runs about 1.9x faster at equal
word accuracy but changes some low-confidence texts (README, "Throughput on the CPU", has the figures). An INT8
Q/DQ model (``starnet-trt quantize``) runs its quantized convolutions in int8: the speed-up for CPUs with VNNI but
no bfloat16, where ONNX Runtime's CPU provider runs the same file slower than the float model.

Two compiled models share one OpenVINO core: a latency one (all threads on one request) for small batches and a
throughput one (one stream per group of cores, the batch split across them) for batches of at least two images
per stream; the second is compiled only when ``max_batch`` allows such batches. Both read the backend's input
buffer and write its output buffer in place (``ov.Tensor`` over NumPy memory), like ONNX Runtime's IOBinding.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..metadata import ModelInfo
from .base import Backend, TensorInfo, check_model_io, score_output
from .int8_cpu import warn_if_saturating

logger = logging.getLogger(__name__)

#: ``precision`` -> (OpenVINO's ``INFERENCE_PRECISION_HINT``, the CPU capability it needs, whether the spatial
#: transformer stays in float32). ``bf16``/``fp16`` keep it there: its sampling positions move the whole rectified
#: image, and in bf16 it changed 4x more texts (IIIT5K train: 45 of 2000 against 11) for 19% more speed.
PRECISIONS = {
    "fp32": ("f32", "FP32", False),
    "bf16": ("bf16", "BF16", True),
    "bf16-all": ("bf16", "BF16", False),
    "fp16": ("f16", "FP16", True),
    "fp16-all": ("f16", "FP16", False),
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


def split_at_rectifier(model: Any) -> tuple[Any, Any] | None:
    """``model`` (one input, already checked) cut after its spatial transformer: ``(image -> rectified image,
    rectified image -> scores)``; the first part shares ``model``'s nodes, the second is rewired on a clone.

    The cut is the output of the one ``GridSample`` that samples the model input (STAR-Net's and DTRB's TPS);
    ``None`` when the model has no such node or its output shape is not static past the batch.
    """
    ov = _import_openvino()
    first = model
    (image,) = first.get_parameters()
    samplers = [op for op in first.get_ops() if op.get_type_name() == "GridSample"]
    if len(samplers) != 1 or samplers[0].input(0).get_source_output().get_node() != image:
        return None
    rectified_shape = samplers[0].output(0).get_partial_shape()
    if not all(d.is_static for d in list(rectified_shape)[1:]):
        return None
    rectifier = ov.Model([samplers[0].output(0)], [image], "rectifier")
    second = model.clone()  # a copy to rewire: the rectified image comes in as a parameter
    sampler = next(op for op in second.get_ops() if op.get_type_name() == "GridSample")
    rectified = ov.opset13.parameter(rectified_shape, ov.Type.f32, name="rectified")
    for target in list(sampler.output(0).get_target_inputs()):
        target.replace_source_output(rectified.output(0))
    return rectifier, ov.Model(second.get_results(), [rectified], "recognizer")


class _Stage:
    """One compiled part of the model: a latency request for small batches and, when the backend's batches can be
    split, one throughput request per stream. Reads rows of ``src`` and writes the same rows of ``dst``."""

    def __init__(self, core: Any, model: Any, config: dict[str, Any], src: np.ndarray, out_index: int = 0) -> None:
        self.core, self.model, self.config = core, model, config
        self.src, self.out_index = src, out_index
        self.dst: np.ndarray | None = None  # set once the output shape is known
        self.latency = core.compile_model(model, "CPU", {**config, "PERFORMANCE_HINT": "LATENCY"})
        self.request = self.latency.create_infer_request()
        self.throughput: Any = None
        self.requests: list[Any] = []

    def compile_throughput(self) -> None:
        if self.throughput is None:
            self.throughput = self.core.compile_model(
                self.model, "CPU", {**self.config, "PERFORMANCE_HINT": "THROUGHPUT"}
            )
            count = int(self.throughput.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
            self.requests = [self.throughput.create_infer_request() for _ in range(max(1, count))]

    def bind(self, ov: Any, request: Any, start: int, stop: int) -> None:
        assert self.dst is not None
        request.set_input_tensor(0, ov.Tensor(self.src[start:stop], shared_memory=True))
        request.set_output_tensor(self.out_index, ov.Tensor(self.dst[start:stop], shared_memory=True))


class OpenVinoBackend(Backend):
    """A STAR-Net ONNX model compiled by OpenVINO for the CPU.

    Args:
        path: The ``.onnx`` file (must exist; the caller resolves it).
        max_batch: Largest batch per :meth:`run`; sizes the preallocated buffers.
        num_threads: Inference threads, 0 for OpenVINO's default (all cores).
        precision: OpenVINO's inference precision: ``"fp32"`` (default); ``"bf16"`` or ``"fp16"`` for everything
            after the spatial transformer, which stays float32 (see :data:`PRECISIONS`); ``"bf16-all"`` or
            ``"fp16-all"`` for the whole model. Reduced precisions need the CPU instructions for them; the message
            says which this CPU has.

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
            raise ValueError(f"precision must be one of {list(PRECISIONS)} for the openvino backend, got {key!r}")
        self.precision = key.lower()
        hint, capability, keep_rectifier = PRECISIONS[self.precision]
        self._core = ov.Core()
        capabilities = cpu_capabilities(self._core)
        if capability not in capabilities:
            raise ValueError(
                f"precision {key!r} needs a CPU with {capability} support (AVX512-BF16 or AMX for bf16, AVX512-FP16 "
                f"or ARM fp16 for fp16); this CPU offers {capabilities}"
            )
        props = _model_props(path)
        try:
            model = self._core.read_model(path)
        except Exception as exc:  # OpenVINO raises RuntimeError/GeneralFailure subclasses
            raise ValueError(f"cannot load ONNX model {path!r} with OpenVINO: {exc}") from None
        self.metadata = ModelInfo.from_props(props, source=source)
        # A Q/DQ model (starnet-trt quantize): OpenVINO runs its quantized convolutions in int8 (VNNI/AMX-INT8 where
        # the CPU has them), the rest at `precision`.
        self._int8 = "starnet.quantization" in props or any(
            op.get_type_name() == "FakeQuantize" for op in model.get_ops()
        )
        if self._int8:
            warn_if_saturating(path, props, logger)
        self._inputs = [_tensor_info(port) for port in model.inputs]
        self._outputs = [_tensor_info(port) for port in model.outputs]
        out = score_output(self._outputs)
        check_model_io(source, self._inputs, out, self.metadata)
        out_index = self._outputs.index(out)
        self.max_batch = self._resolve_max_batch(max_batch)
        self._fixed_batch = isinstance(self._inputs[0].shape[0], int)
        parts = split_at_rectifier(model) if keep_rectifier else None
        if keep_rectifier and parts is None:
            logger.info("%s: no spatial transformer to keep in float32; all of it runs in %s", source, hint)
        self._split = parts is not None

        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": hint}
        if num_threads > 0:
            config["INFERENCE_NUM_THREADS"] = num_threads
        pre = self.metadata.preprocess
        self._in_buf = np.zeros((self.max_batch, pre.channels, pre.height, pre.width), np.float32)
        try:
            if parts is None:
                self._stages = [_Stage(self._core, model, config, self._in_buf, out_index)]
            else:
                rectifier, recognizer = parts
                rectified_shape = [d.get_length() for d in list(rectifier.outputs[0].get_partial_shape())[1:]]
                mid = np.zeros((self.max_batch, *rectified_shape), np.float32)
                fp32 = {**config, "INFERENCE_PRECISION_HINT": "f32"}
                self._stages = [
                    _Stage(self._core, rectifier, fp32, self._in_buf),
                    _Stage(self._core, recognizer, config, mid, out_index),
                ]
                self._stages[0].dst = mid
        except Exception as exc:
            raise ValueError(f"OpenVINO cannot compile {source}: {exc}") from None
        steps, classes = out.shape[1:]
        if not (isinstance(steps, int) and isinstance(classes, int)):
            # Exports often leave T symbolic though the fixed input width fixes it: learn it from one run.
            rows = self.max_batch if self._fixed_batch else 1
            data = self._in_buf[:rows]
            for stage in self._stages:
                data = stage.request.infer({0: data})[stage.out_index]
            steps, classes = data.shape[1:]
        self._out_buf = np.zeros((self.max_batch, steps, classes), np.float32)
        self._stages[-1].dst = self._out_buf
        if self.max_batch >= self.MIN_SPLIT_BATCH and not self._fixed_batch:
            # Compiled now rather than on the first big batch, so no call pays the compile (0.1-0.3 s).
            for stage in self._stages:
                stage.compile_throughput()

    # -- model description -------------------------------------------------------------------------------------

    @property
    def providers(self) -> list[str]:
        self._check_open()
        kept = " (spatial transformer fp32)" if self._split else ""
        int8 = "int8 Q/DQ + " if self._int8 else ""
        return [f"OpenVINO CPU {int8}{self.precision}{kept}"]

    def _resolve_max_batch(self, requested: int) -> int:
        batch_dim = self._inputs[0].shape[0]
        return batch_dim if isinstance(batch_dim, int) else requested

    # -- running -----------------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if not self._stages:
            raise RuntimeError("this recognizer has been closed")

    def input_buffer(self, n: int) -> np.ndarray:
        self._check_open()
        return self._in_buf[:n]

    def run(self, n: int) -> np.ndarray:
        self._check_open()
        if not 1 <= n <= self.max_batch:
            raise ValueError(f"batch of {n} images is outside 1..{self.max_batch}")
        ov = self._ov
        streams = min(len(stage.requests) for stage in self._stages)
        if not self._fixed_batch and n >= self.MIN_SPLIT_BATCH and streams > 1 and n >= 2 * streams:
            # Rounds of one slice per stream, each request reading and writing its rows of the stage's buffers.
            # Slices of at most REQUEST_ROWS keep activations in cache (bundled model, 2-core Zen 4, batch 128:
            # bf16 1594 img/s in slices of 16 against 1487 in two of 64; fp32 899 against 774).
            per = min(self.REQUEST_ROWS, -(-n // streams))
            slices = [(start, min(start + per, n)) for start in range(0, n, per)]
            for first in range(0, len(slices), streams):
                active = slices[first : first + streams]  # the last round may be short
                for stage in self._stages:
                    for request, (start, stop) in zip(stage.requests, active, strict=False):
                        stage.bind(ov, request, start, stop)
                        request.start_async()
                    for request in stage.requests[: len(active)]:
                        request.wait()
        else:
            rows = self.max_batch if self._fixed_batch else n  # a fixed batch dimension: always run all rows
            for stage in self._stages:
                stage.bind(ov, stage.request, 0, rows)
                stage.request.infer()
        return self._out_buf[:n]

    def close(self) -> None:
        self._stages = []
