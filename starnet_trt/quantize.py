"""INT8 by explicit quantization (``starnet-trt quantize``): a Q/DQ ONNX that TensorRT 10/11 and TensorRT-RTX build.

TensorRT's implicit INT8 calibrators are deprecated in TensorRT 10 and removed in 11, so the int8 ranges travel
in the graph as ``QuantizeLinear``/``DequantizeLinear`` pairs. We calibrate with ONNX Runtime's static quantizer
on word images preprocessed exactly like inference (:func:`starnet_trt.ops.resize_normalize` with the model's
own preprocessing metadata), and ONNX Runtime also *runs* the result on the CPU, so the accuracy cost of INT8 is
measured with ``starnet-trt eval --model model.int8.onnx`` before any engine is built.

The format TensorRT fuses: symmetric int8 activations and weights (zero point 0), per-channel weight scales
(axis 0 of conv/gemm weights), int8 weight initializers feeding a DequantizeLinear, float biases (TensorRT's
parser rejects int32 bias DequantizeLinear, so ``QuantizeBias`` is off; TensorRT folds the bias itself).

Precision policy (defaults chosen because these parts are small in FLOPs and sensitive in value, and because
TensorRT only gains where a convolution runs in int8):

* **TPS localization** (every node feeding GridSample's grid: loc-net convs, fc layers, the folded grid MatMul)
  stays float: 20 fiducials regress pixel positions, and an error there moves the whole rectified image. Quantize
  it with ``quantize_tps=True`` / ``--quantize-tps``.
* **BiLSTM neck** stays float always: ONNX Runtime's static quantizer has no Q/DQ form for LSTM, and TensorRT runs
  recurrent layers in float anyway.
* **Head** (the final FC and softmax, everything after the last LSTM) stays float: 37 outputs per step, tiny cost,
  and the logits decide the text. Quantize it with ``quantize_head=True`` / ``--quantize-head``.
* The **backbone** (ResNet34_vd or MobileNetV3) is quantized: that is where the FLOPs are; except its first seven
  convolutions (``float_stem`` / ``--float-stem N``: MobileNetV3's stem and first two blocks, 1.6% of its
  convolution MACs) and its depthwise ones (``quantize_depthwise=True`` / ``--quantize-depthwise`` quantizes them).
  Nodes that compute nothing (activations, pooling, the SE multiply, residual adds) and read only float nodes'
  outputs stay float with them (:func:`_float_closure`).
  Chosen on the bundled model of 2026-12-07 (28,000 steps; ONNX Runtime / OpenVINO int8 texts that differ from
  the float model's on 903 held-out training images, percentile, on a Zen 4 CPU with VNNI): three convolutions float
  without the closure (the policy before 2026-12-07) 120 / 105; with the closure 112 / 119; four convolutions (the
  whole first block) with the closure 92 / 94; seven 68 / 72 (the default); ten 68 / 66; thirteen 54 / 70. Run
  unfused and exact (what TensorRT computes): three convolutions float 124 texts without the closure, 100 with it;
  four 108 and 70. Test sets once, after that choice (float 74.73 / 66.31; ONNX Runtime): IIIT5K 73.97 ->
  74.33, SVT 64.76 -> 65.69; and OpenVINO int8 ran 1.74x ONNX Runtime's float at batch 32, against 1.41x (README).
  Before that, on the two-stage model (21,000 steps, float 69.32%): every backbone convolution quantized changed 145
  texts (-> 68.33%); stem float 132 (68.00%); first three float 123 (68.55%); depthwise float 123 (68.22%); first
  three and depthwise float 119 (69.21%); every pointwise float 135 (68.88%).

Measured (an earlier bundled starnet_mv3, 512 iiit5k/train calibration images, minmax, ONNX Runtime CPU), word accuracy
on svt/train and the first 1000 of ic15/train: float 76.7 / 54.4; default policy 73.2 / 51.8; with the TPS quantized
64.6 / 46.2 (so the TPS stays float); with the head quantized too 72.8 / 52.5 (no gain worth the risk). Test sets:
iiit5k 69.13 -> 69.13, svt 57.96 -> 56.72.

Calibration: ``percentile`` by default (the 99.999th percentile of ``|x|`` per activation, computed in two streamed
passes by :mod:`starnet_trt.activation_ranges`; ONNX Runtime's own percentile calibrator holds every activation and took
6.0 GB and 19.8 s for 512 images of the bundled model, ours 0.6 GB and 6.9 s). Chosen on the first-stage bundled model
(11,000 steps) calibrated on 512 images of iiit5k/train without its held-out tenth, measured on 903 images outside the
calibration set (the held-out tenths of iiit5k and ic15 train, and svt/train): ``minmax`` changed 193 of the float
model's texts (word accuracy 64.78 -> 63.12), ``percentile`` 158 (-> 63.79); 99.99 changed 139 (-> 63.46), 99.9999
changed 192. The 25 sample words of ``examples/words`` as the calibration set: 141 (-> 64.56). Test sets, once, after
that choice, calibrated with ``--calib ../shared/data/iiit5k/train.txt``: IIIT5K 70.43 -> 69.90 (minmax) / 70.17
(percentile), SVT 60.59 -> 59.35 / 59.81; on the 25 sample words (no ``--calib``, percentile): IIIT5K 70.10, SVT 60.12.
``python benchmarks/int8_calibration.py`` reproduces the held-out figures (under a minute).

The parts are found by graph structure (ancestors of GridSample's grid input, LSTM nodes and what follows them),
not by node names, so models converted from Paddle or elsewhere get the same policy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import activation_ranges, argcheck
from .activation_ranges import DEFAULT_PERCENTILE
from .atomic import atomic_write_path
from .graph.check import CheckedModel, check_onnx
from .graph.cleanup import bypass_initializer_identities
from .metadata import Preprocess
from .samples import SAMPLE_COUNT

log = logging.getLogger(__name__)

DEFAULT_CALIB_COUNT = 512
CALIB_METHODS = ("minmax", "entropy", "percentile")
DEFAULT_CALIB_METHOD = "percentile"
KEY_QUANTIZATION = "starnet.quantization"
# Where the backbone's spatial feature extraction ends: the last of these before the neck.
_FEATURE_OPS = ("Conv", "MaxPool", "AveragePool", "GlobalAveragePool")
_CONSTANT_ARITHMETIC = ("Add", "Sub", "Mul", "Div")
_TAIL_OPS = ("MaxPool", "AveragePool", "GlobalAveragePool", "Relu", "HardSwish", "Clip", "LeakyRelu")


DEFAULT_FLOAT_STEM = 7
# Ops that compute (int8 pays there); the others only move or combine values already computed.
_COMPUTE_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU", "RNN", "GridSample")


@dataclass(frozen=True)
class PrecisionPolicy:
    """Which parts of STAR-Net stay in float in the Q/DQ graph (see the module docstring).

    Attributes:
        quantize_tps: Quantize the TPS localization network too.
        quantize_head: Quantize the final FC (the softmax stays float).
        quantize_depthwise: Quantize depthwise convolutions (``group > 1``) too.
        float_stem: How many of the backbone's first convolutions stay float.
        exclude: Extra node names to keep in float.
        full_range_weights: Quantize weights to the whole int8 range [-127, 127]. By default they use 7 bits
            ([-64, 64], ONNX Runtime's ``reduce_range``): x86 CPUs without VNNI (AVX2 only: AMD Zen 1-3, Intel
            before Ice Lake / Cascade Lake) multiply uint8 activations by int8 weights with 16-bit saturating adds,
            which full-range weights overflow. Full-range files are for TensorRT and CPUs with VNNI/AMX.
    """

    quantize_tps: bool = False
    quantize_head: bool = False
    quantize_depthwise: bool = False
    float_stem: int = DEFAULT_FLOAT_STEM
    exclude: tuple[str, ...] = ()
    full_range_weights: bool = False


@dataclass(frozen=True)
class QuantizeResult:
    """What :func:`quantize_model` did.

    Attributes:
        path: The written Q/DQ ONNX (``None`` when only the in-memory model was asked for).
        proto: The Q/DQ model.
        calibration_images: Images the ranges were computed on.
        calibration_source: The calibration folder, label file or LMDB.
        excluded_nodes: Names of the nodes kept in float by the policy.
        quantized_nodes: Nodes with quantized inputs (Conv, Gemm, MatMul, Add, ...).
        seconds: Wall time of calibration and rewriting.
    """

    path: Path | None
    proto: Any
    calibration_images: int
    calibration_source: str
    excluded_nodes: list[str]
    quantized_nodes: int
    seconds: float
    policy: PrecisionPolicy = field(default_factory=PrecisionPolicy)


# -- calibration images ------------------------------------------------------------------------------------------


def _spread(n: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``range(n)`` (the whole set, not its first files)."""
    if count >= n:
        return list(range(n))
    return sorted({int(i) for i in np.linspace(0, n - 1, count)})


def load_calibration_images(source: str | os.PathLike[str], count: int = DEFAULT_CALIB_COUNT) -> list[np.ndarray]:
    """Up to ``count`` word images (BGR uint8) spread evenly over a folder, a label file or an LMDB.

    Args:
        source: A folder of image files, a PaddleOCR label file (``path<TAB>label``) or an LMDB folder.
        count: How many images to use (>= 1).

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: ``count`` < 1, or no readable image in ``source``.
    """
    from .data.datasets import open_dataset
    from .images import list_image_files, read_image

    if not isinstance(count, int) or count < 1:
        raise ValueError(f"calibration count must be a positive integer, got {count!r}")
    src = Path(os.fspath(source))
    if not src.exists():
        raise FileNotFoundError(f"calibration set not found: {str(src)!r}")
    images: list[np.ndarray] = []
    unreadable = 0
    if src.is_dir() and not (src / "data.mdb").is_file():
        files = list_image_files(src)
        for i in _spread(len(files), count):
            try:
                images.append(read_image(files[i]))
            except (OSError, ValueError):
                unreadable += 1
    else:
        dataset = open_dataset(src, strict=False) if src.suffix.lower() == ".txt" else open_dataset(src)
        for i in _spread(len(dataset), count):
            img = dataset[i][0]
            if img is None:
                unreadable += 1
            else:
                images.append(img)
    if unreadable:
        log.warning("calibration: %d unreadable image(s) in %s skipped", unreadable, src)
    if not images:
        raise ValueError(
            f"calibration set {str(src)!r} holds no readable images: give a folder of word images, a label file "
            "(path<TAB>label) or an LMDB, from the training distribution (never a test split)"
        )
    return images


class StarNetCalibrationReader:
    """ONNX Runtime ``CalibrationDataReader`` over word images, preprocessed exactly like inference.

    Example:
        >>> reader = StarNetCalibrationReader(images, Preprocess(), batch_size=32)  # doctest: +SKIP
    """

    def __init__(
        self, images: Sequence[np.ndarray], preprocess: Preprocess, *, input_name: str = "x", batch_size: int = 32
    ) -> None:
        self._images = list(images)
        self._pre = preprocess
        self._input = input_name
        self._batch = max(1, batch_size)
        self._iter: Iterator[dict[str, np.ndarray]] = self._batches()

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        from .ops import resize_normalize

        pre = self._pre
        for first in range(0, len(self._images), self._batch):
            batch, _ = resize_normalize(self._images[first : first + self._batch], **pre.resize_kwargs())
            yield {self._input: batch}

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = self._batches()


# -- policy ------------------------------------------------------------------------------------------------------


def _producers(graph: Any) -> dict[str, Any]:
    return {out: node for node in graph.node for out in node.output}


def _ancestors(graph: Any, tensor: str) -> set[str]:
    """Names of the nodes ``tensor`` depends on (through non-initializer inputs)."""
    producers = _producers(graph)
    seen: set[str] = set()
    stack = [tensor]
    visited_tensors: set[str] = set()
    while stack:
        name = stack.pop()
        if name in visited_tensors:
            continue
        visited_tensors.add(name)
        node = producers.get(name)
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        stack.extend(i for i in node.input if i)
    return seen


def _descendants(graph: Any, start: Any) -> set[str]:
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    seen: set[str] = {start.name}
    stack = list(start.output)
    while stack:
        for node in consumers.get(stack.pop(), []):
            if node.name not in seen:
                seen.add(node.name)
                stack.extend(node.output)
    return seen


def _feature_nodes(graph: Any) -> set[str]:
    return {n.name for n in graph.node if n.op_type in _FEATURE_OPS}


def _backbone_tail(graph: Any, last: list[Any]) -> set[str]:
    """The final pooling and the activations right before it (up to the last Conv or Add), kept float.

    With int8 reaching the final pool, TensorRT propagates the int8 tensor forward through the pool and the neck's
    Reshape/Transpose into the LSTM's Myelin graph, which then fails to build (TensorRT-RTX 1.7, ResNet34_vd:
    "Expected 25 to be equal to ... in reshape op"). Ending the int8 region at the last Conv/Add avoids it at the
    cost of one float pool.
    """
    producers = _producers(graph)
    names: set[str] = set()
    node = last[0] if last and last[0].op_type != "Conv" else None
    while node is not None and node.op_type in _TAIL_OPS:
        names.add(node.name)
        node = producers.get(node.input[0])
    return names


def float_nodes(proto: Any, policy: PrecisionPolicy) -> list[str]:
    """Names of the nodes the policy keeps in float (the input of ``nodes_to_exclude``)."""
    graph = proto.graph
    if any(not n.name for n in graph.node):
        raise ValueError("every node needs a name for the precision policy; re-export the model")
    names: set[str] = set(policy.exclude)
    samplers = [n for n in graph.node if n.op_type == "GridSample"]
    tps: set[str] = set()
    for sampler in samplers:
        tps |= _ancestors(graph, sampler.input[1]) | {sampler.name}
    if not policy.quantize_tps:
        names |= tps
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    if lstms:
        order = {n.name: i for i, n in enumerate(graph.node)}
        first = min(lstms, key=lambda n: order[n.name])
        last = max(lstms, key=lambda n: order[n.name])
        neck_and_head = _descendants(graph, first)
        head = _descendants(graph, last) - {last.name}
        names |= neck_and_head - (head if policy.quantize_head else set())
        # The reshapes/transposes between the backbone's last conv or pool and the LSTM: a Q/DQ there only
        # re-quantizes what the LSTM reads in float, and TensorRT cannot fuse it (it fails to build r34_vd).
        feeding = _ancestors(graph, first.input[0])
        boundary = max((order[n] for n in feeding if n in _feature_nodes(graph)), default=-1)
        names |= {n for n in feeding if order[n] > boundary}
        names |= _backbone_tail(graph, [n for n in graph.node if order[n.name] == boundary])
        # The softmax stays float even with quantize_head: probabilities near 0/1 need the float range.
        names |= {n.name for n in graph.node if n.op_type == "Softmax" and n.name in head}
    else:
        log.warning("no LSTM in the graph: the neck/head part of the precision policy does not apply")
    # Elementwise arithmetic with a constant operand (the hard-sigmoid `x * 0.2 + 0.5` of MobileNetV3's SE blocks, on
    # [N, C, 1, 1] tensors): int8 gains nothing there, and OpenVINO's low-precision transformations fail on a
    # quantized scalar constant ("MultiplyPartialTransformation ... index '0' out of range", OpenVINO 2026.4), which
    # would keep the Q/DQ model off OpenVINO's int8 CPU kernels. Held-out texts changed: 158 either way.
    constants = {t.name for t in graph.initializer}
    constants |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    names |= {n.name for n in graph.node if n.op_type in _CONSTANT_ARITHMETIC and any(i in constants for i in n.input)}
    # Backbone convolutions: the first `float_stem` in graph order, and the depthwise ones, stay float by default.
    backbone = [n for n in graph.node if n.op_type == "Conv" and n.name not in names | tps]
    if policy.float_stem < 0:
        raise ValueError(f"float_stem: expected 0 or more convolutions, got {policy.float_stem}")
    names |= {n.name for n in backbone[: policy.float_stem]}
    if not policy.quantize_depthwise:
        names |= {n.name for n in backbone if any(a.name == "group" and a.i > 1 for a in n.attribute)}
    names |= _float_closure(graph, names, constants)
    known = {n.name for n in graph.node}
    return sorted(names & known)


def _float_closure(graph: Any, names: set[str], constants: set[str]) -> set[str]:
    """Elementwise, pooling and data-movement nodes that read only float nodes' outputs: they stay float too.

    ONNX Runtime's quantizer otherwise puts Q/DQ pairs on them (the Relu/HardSwish after a float depthwise
    convolution, the SE block's pooling and multiply, the residual Add of the float stem), so a tensor computed in
    float is rounded to int8 where no int8 kernel reads it, and again at the next quantized convolution. Nothing
    runs faster for it, and it was much of the int8 error: on 903 held-out images, int8 run unfused and exact changed
    108 of the float model's texts with those pairs and 70 without them (the first four convolutions float).
    """
    producers = _producers(graph)
    closed = set(names)
    for node in graph.node:  # ONNX graphs are topologically sorted: one pass reaches every descendant
        if node.name in closed or node.op_type in _COMPUTE_OPS:
            continue
        inputs = [i for i in node.input if i and i not in constants]
        if inputs and all(i in producers and producers[i].name in closed for i in inputs):
            closed.add(node.name)
    return closed - names


# -- quantization ------------------------------------------------------------------------------------------------


class _PreprocessingAdvice(logging.Filter):
    """Drops ONNX Runtime's "consider pre-processing" advice: exported STAR-Net graphs are already folded."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextlib.contextmanager
def _quiet_preprocessing_advice() -> Iterator[None]:
    root = logging.getLogger()
    advice = _PreprocessingAdvice()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


def _method(name: str) -> Any:
    from onnxruntime.quantization import CalibrationMethod

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    if name not in methods:
        raise ValueError(f"calibration method must be one of {CALIB_METHODS}, got {name!r}")
    return methods[name]


def quantize_model(
    onnx_model: str | os.PathLike[str] | CheckedModel,
    calib: str | os.PathLike[str] | None,
    out: str | os.PathLike[str] | None = None,
    *,
    calib_count: int = DEFAULT_CALIB_COUNT,
    policy: PrecisionPolicy | None = None,
    method: str = DEFAULT_CALIB_METHOD,
    percentile: float = DEFAULT_PERCENTILE,
    charset: str | None = None,
    batch_size: int = 32,
    progress: Callable[[str], None] | None = None,
) -> QuantizeResult:
    """Calibrate ``onnx_model`` on word images and write a Q/DQ (explicit INT8) ONNX.

    Args:
        onnx_model: Float ONNX model file (or a model already checked by :func:`~starnet_trt.graph.check.check_onnx`).
        calib: Folder of word images, label file or LMDB; use training data, never a test split. ``None``: the
            25 sample words shipped with starnet-trt (:func:`starnet_trt.samples.sample_words_dir`), with a
            warning; a few hundred images of the model's own training data are the better set for other models.
        out: Where to write the Q/DQ model (atomically). ``None``: return it in memory only.
        calib_count: Images to calibrate on, spread evenly over ``calib``.
        policy: Which parts stay float (default: TPS localization, LSTM and head; see the module docstring).
        method: ``"percentile"`` (default; ours, streamed: :mod:`starnet_trt.activation_ranges`), ``"minmax"``
            or ``"entropy"`` (ONNX Runtime's; it holds every activation of every image in memory).
        percentile: For ``method="percentile"``: the share of ``|x|`` each activation's int8 range holds.
        charset: For a model without metadata (as ``--charset``).
        batch_size: Images per calibration run.
        progress: Called with a line of text at each step.

    Returns:
        What was done; ``result.proto`` is the Q/DQ model with the input model's metadata plus
        ``starnet.quantization`` (method, image count, policy).

    Raises:
        TypeError: An argument of the wrong type (the message names it).
        FileNotFoundError: ``onnx_model`` or ``calib`` is missing.
        IsADirectoryError: ``out`` is a directory.
        ValueError: Bad model, already quantized, no readable calibration images, or an argument out of range.

    Example:
        >>> quantize_model("starnet_mv3.onnx", "data/iiit5k/train.txt", "starnet_mv3.int8.onnx")  # doctest: +SKIP
    """
    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    say = argcheck.optional_callable(progress, "progress") or (lambda line: log.info("%s", line))
    if policy is not None and not isinstance(policy, PrecisionPolicy):
        raise TypeError(f"policy must be a PrecisionPolicy or None, got {type(policy).__name__}")
    policy = policy or PrecisionPolicy()
    calibrate_method = _method(method)
    percentile = argcheck.require_percentile(percentile, "percentile")
    shipped = calib is None
    if calib is None:
        from .samples import sample_words_dir

        calib = sample_words_dir()
        log.warning(
            "no calibration set given: calibrating on the %s sample words shipped with starnet-trt; for a model "
            "of your own, pass a few hundred of its training images (--calib DIR|GT.txt|LMDB)",
            SAMPLE_COUNT,
        )
    argcheck.require_path(calib, "calib")
    argcheck.require_int(calib_count, "calib_count", 1)
    argcheck.require_int(batch_size, "batch_size", 1)
    argcheck.optional_str(charset, "charset")
    if out is not None:
        out = argcheck.output_file(out, "out")
    started = time.perf_counter()
    checked = onnx_model if isinstance(onnx_model, CheckedModel) else check_onnx(onnx_model, charset=charset)
    if checked.quantized:
        raise ValueError(f"{str(checked.path)!r} is already quantized (it holds QuantizeLinear/DequantizeLinear nodes)")
    images = load_calibration_images(calib, calib_count)
    label = f"percentile {percentile:g}" if method == "percentile" else method
    say(f"calibrating on {len(images)} images from {os.fspath(calib)} ({label})")

    proto = onnx.ModelProto()
    proto.CopyFrom(checked.proto)
    bypass_initializer_identities(proto)
    excluded = float_nodes(proto, policy)
    reader = StarNetCalibrationReader(
        images, checked.info.preprocess, input_name=checked.input_name, batch_size=batch_size
    )
    ranges: dict[str, float] | None = None
    overrides: dict[str, Any] = {}
    if method == "percentile":
        # Our streamed percentile (ONNX Runtime's keeps all activations: 6 GB for 512 images of the bundled
        # model). Its thresholds override ONNX Runtime's ranges for every activation, so ONNX Runtime's own
        # (MinMax) calibration only needs to see one batch; check_scales below proves every scale is ours.
        def batches() -> Iterator[dict[str, np.ndarray]]:
            reader.rewind()
            while (feed := reader.get_next()) is not None:
                yield feed

        ranges = activation_ranges.relu_adjusted(
            proto, activation_ranges.percentile_ranges(proto, batches, percentile=percentile)
        )
        overrides = activation_ranges.overrides(ranges)
        reader = StarNetCalibrationReader(
            images[:batch_size], checked.info.preprocess, input_name=checked.input_name, batch_size=batch_size
        )
        calibrate_method = _method("minmax")
    with tempfile.TemporaryDirectory(prefix="starnet-quantize-") as tmp, _quiet_preprocessing_advice():
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "qdq.onnx"
        onnx.save(proto, str(src))
        quantize_static(
            str(src),
            str(dst),
            reader,
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=not policy.full_range_weights,
            nodes_to_exclude=excluded,
            calibrate_method=calibrate_method,
            extra_options={
                **({"TensorQuantOverrides": overrides} if overrides else {}),
                "ActivationSymmetric": True,
                "WeightSymmetric": True,
                # TensorRT rejects DequantizeLinear of int32 biases; it folds float biases into the int8 conv.
                "QuantizeBias": False,
                # Not "CalibMaxIntermediateOutputs": in ONNX Runtime 1.32 it drops the collected batches without
                # merging their ranges (and fails when the batch count is a multiple of it). MinMax needs no bound:
                # its augmented graph returns per-tensor min/max only. Entropy/percentile keep whole activations,
                # so their memory grows with calib_count.
            },
        )
        qdq = onnx.load(str(dst))
    if ranges is not None and (missed := activation_ranges.check_scales(qdq, ranges)):
        raise RuntimeError(f"percentile calibration: ONNX Runtime did not take the ranges of {missed[:5]}")
    quantized = sum(
        1
        for node in qdq.graph.node
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear")
        and any(i.endswith("_DequantizeLinear_Output") for i in node.input)
    )
    record = {
        "format": "qdq",
        "activations": "int8 symmetric per-tensor",
        "weights": "int8 symmetric per-channel, " + ("full range" if policy.full_range_weights else "7-bit range"),
        "method": method,
        **({"percentile": percentile} if method == "percentile" else {}),
        "calibration_images": len(images),
        "calibration_source": (
            "starnet-trt sample words" if shipped else os.path.basename(os.path.normpath(os.fspath(calib)))
        ),
        "policy": asdict(policy),
        "float_nodes": len(excluded),
        "quantizer": f"onnxruntime {onnxruntime.__version__}",
        "source_sha256": checked.sha256,
    }
    del qdq.metadata_props[:]
    props = dict(checked.info.to_props())
    props[KEY_QUANTIZATION] = json.dumps(record, sort_keys=True)
    for key, value in sorted(props.items()):
        entry = qdq.metadata_props.add()
        entry.key, entry.value = key, value
    qdq.doc_string = (checked.proto.doc_string + " (int8 Q/DQ by starnet-trt quantize)").strip()
    path = None
    if out is not None:
        path = Path(os.fspath(out))
        with atomic_write_path(path) as tmp_path:
            onnx.save(qdq, str(tmp_path))
    seconds = time.perf_counter() - started
    say(f"quantized {quantized} nodes, {len(excluded)} kept in float, in {seconds:.1f} s")
    return QuantizeResult(
        path=path,
        proto=qdq,
        calibration_images=len(images),
        calibration_source=os.fspath(calib),
        excluded_nodes=excluded,
        quantized_nodes=quantized,
        seconds=seconds,
        policy=policy,
    )


# -- command line ------------------------------------------------------------------------------------------------


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    """Calibration and precision-policy options, shared by ``quantize`` and ``build --int8``."""
    parser.add_argument(
        "--calib",
        metavar="DIR|GT.txt|LMDB",
        help="calibration word images: a folder, a label file (path<TAB>label) or an LMDB; training data, never "
        "test (default: the 25 sample words shipped with starnet-trt)",
    )
    parser.add_argument(
        "--calib-count",
        type=int,
        default=DEFAULT_CALIB_COUNT,
        metavar="N",
        help=f"calibration images, spread evenly over the set (default {DEFAULT_CALIB_COUNT})",
    )
    parser.add_argument(
        "--calib-method",
        choices=CALIB_METHODS,
        default=DEFAULT_CALIB_METHOD,
        help=f"activation range calibrator (default {DEFAULT_CALIB_METHOD})",
    )
    parser.add_argument(
        "--calib-percentile",
        type=float,
        default=DEFAULT_PERCENTILE,
        metavar="P",
        help=f"with --calib-method percentile: share of |x| each int8 range holds (default {DEFAULT_PERCENTILE:g})",
    )
    parser.add_argument(
        "--quantize-tps", action="store_true", help="quantize the TPS localization network too (default: float)"
    )
    parser.add_argument("--quantize-head", action="store_true", help="quantize the final FC too (default: float)")
    parser.add_argument(
        "--quantize-depthwise", action="store_true", help="quantize depthwise convolutions too (default: float)"
    )
    parser.add_argument(
        "--float-stem",
        type=int,
        default=DEFAULT_FLOAT_STEM,
        metavar="N",
        help=f"the backbone's first N convolutions stay float (default {DEFAULT_FLOAT_STEM}; 0 quantizes them)",
    )
    parser.add_argument(
        "--full-range-weights",
        action="store_true",
        help="quantize weights to the whole int8 range (default: 7 bits, which x86 CPUs without VNNI need: their "
        "int8 kernels saturate with full-range weights; TensorRT and VNNI/AMX CPUs do not)",
    )
    parser.add_argument(
        "--keep-float",
        action="append",
        default=[],
        metavar="NODE",
        help="keep this node in float (repeatable)",
    )


def policy_from_args(args: argparse.Namespace) -> PrecisionPolicy:
    return PrecisionPolicy(
        quantize_tps=args.quantize_tps,
        quantize_head=args.quantize_head,
        quantize_depthwise=args.quantize_depthwise,
        float_stem=args.float_stem,
        exclude=tuple(args.keep_float),
        full_range_weights=args.full_range_weights,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onnx", required=True, metavar="MODEL", help="float ONNX model")
    parser.add_argument("-o", "--out", required=True, metavar="OUT.onnx", help="Q/DQ ONNX to write")
    parser.add_argument("--charset", help="charset for a model without starnet-trt metadata (e.g. 0-9a-z spelled out)")
    add_policy_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    result = quantize_model(
        args.onnx,
        args.calib,
        args.out,
        calib_count=args.calib_count,
        policy=policy_from_args(args),
        method=args.calib_method,
        percentile=args.calib_percentile,
        charset=args.charset,
        progress=lambda line: print(f"quantize: {line}", file=sys.stderr, flush=True),
    )
    assert result.path is not None
    print(f"wrote {result.path} ({result.path.stat().st_size / 1e6:.2f} MB)")
    return 0
