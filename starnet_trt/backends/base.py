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

    @property
    @abc.abstractmethod
    def inputs(self) -> list[TensorInfo]:
        """The model inputs."""

    @property
    @abc.abstractmethod
    def outputs(self) -> list[TensorInfo]:
        """The model outputs."""

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
