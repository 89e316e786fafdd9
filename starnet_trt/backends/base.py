"""The interface every inference backend implements for the recognizer.

A backend owns the model and two host buffers sized for ``max_batch``: the recognizer preprocesses straight
into :meth:`Backend.input_buffer` and reads scores from what :meth:`Backend.run` returns, so no batch is
copied on its way in or out.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..metadata import ModelInfo


class TensorInfo(NamedTuple):
    """Name, shape and element type of a model input or output (the fields of ONNX Runtime's ``NodeArg``).

    ``shape`` holds ints for fixed dimensions and a string (or ``None``) for dynamic ones, e.g.
    ``("N", 3, 32, 100)``; ``type`` is ONNX Runtime's spelling, e.g. ``"tensor(float)"``.
    """

    name: str
    shape: tuple[int | str | None, ...]
    type: str


class Backend(abc.ABC):
    """A loaded model that runs batches of preprocessed word images.

    Attributes:
        name: Short backend name (``"onnxruntime"``, ``"tensorrt"``).
        metadata: The model's charset and preprocessing.
        max_batch: The largest batch :meth:`run` accepts.
    """

    name: str
    metadata: ModelInfo
    max_batch: int
    #: True for backends that take raw images and decode on the device (:meth:`run_images`); the recognizer then
    #: skips its CPU preprocessing and decoding.
    decodes_on_device: bool = False

    #: Set by each backend when it loads the model.
    _inputs: list[TensorInfo]
    _outputs: list[TensorInfo]

    @property
    def inputs(self) -> list[TensorInfo]:
        """The model inputs."""
        return list(self._inputs)

    @property
    def outputs(self) -> list[TensorInfo]:
        """The model outputs."""
        return list(self._outputs)

    @property
    @abc.abstractmethod
    def providers(self) -> list[str]:
        """Where the model runs (ONNX Runtime execution providers, or the device for TensorRT)."""

    @abc.abstractmethod
    def input_buffer(self, n: int) -> np.ndarray:
        """A writable, C-contiguous float32 view ``[n, C, H, W]`` that the next :meth:`run` reads."""

    @abc.abstractmethod
    def run(self, n: int) -> np.ndarray:
        """Run the first ``n`` images of the input buffer; return float32 scores ``[n, T, classes]``.

        The returned array may be a view of a buffer the next call overwrites.
        """

    def run_images(self, images: Sequence[np.ndarray] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Preprocess, run and decode uint8 BGR images on the device: ``(indices, lengths, confidences)``.

        Only backends with ``decodes_on_device`` implement it.
        """
        raise NotImplementedError(f"the {self.name} backend takes preprocessed batches (input_buffer + run)")

    @abc.abstractmethod
    def close(self) -> None:
        """Release the model and buffers; further calls raise ``RuntimeError``."""


def score_output(outputs: Sequence[TensorInfo]) -> TensorInfo:
    """The scores output: the one named ``probs`` (the export contract), else a single-output model's only one."""
    for out in outputs:
        if out.name == "probs":
            return out
    return outputs[0]


def check_model_io(source: str, inputs: Sequence[TensorInfo], out: TensorInfo, info: ModelInfo) -> None:
    """Check an ONNX model's inputs/outputs against its metadata (one float32 ``[N, C, H, W]`` input whose fixed
    dimensions match the preprocessing; ``out``, the scores output (:func:`score_output`), float32
    ``[N, T, classes]`` with blank + charset classes).

    Raises:
        ValueError: naming the tensor, what it is and what the metadata implies.
    """
    pre = info.preprocess
    if len(inputs) != 1:
        names = [i.name for i in inputs]
        raise ValueError(f"{source}: expected one input (the image batch 'x'), got {len(names)}: {names}")
    inp = inputs[0]
    if inp.type != "tensor(float)" or len(inp.shape) != 4:
        raise ValueError(f"{source}: expected input '{inp.name}' float32 [N, C, H, W], got {inp.type} {inp.shape}")
    expected = (pre.channels, pre.height, pre.width)
    for axis, (got, want) in enumerate(zip(inp.shape[1:], expected, strict=True), start=1):
        if isinstance(got, int) and got != want:
            raise ValueError(
                f"{source}: input '{inp.name}' has shape {list(inp.shape)} but the metadata's preprocessing "
                f"produces [N, {pre.channels}, {pre.height}, {pre.width}] (axis {axis}: {got} vs {want})"
            )
    if out.type != "tensor(float)" or len(out.shape) != 3:
        raise ValueError(f"{source}: expected output '{out.name}' float32 [N, T, classes], got {out.type} {out.shape}")
    classes = out.shape[2]
    if isinstance(classes, int) and classes != info.num_classes:
        raise ValueError(
            f"{source}: the metadata charset has {len(info.charset)} characters, so the output should "
            f"have {info.num_classes} classes (blank + charset), but '{out.name}' has {classes}"
        )
