"""Tiny ONNX models that honour the STAR-Net model contract, for tests that must not need torch or real weights.

The model: input ``x`` float32 ``[N, C, 32, 100]`` -> output ``probs`` float32 ``[N, 25, classes]``. Time step
``t`` looks at the 4-pixel column block ``t``: its mean normalized intensity ``v`` in ``[-1, 1]`` picks the class
whose "center" is nearest (``-alpha * (v - center)^2`` then softmax). The blank's center is 0, which is also the
padding value, so padding decodes to nothing. :func:`text_image` paints a word as blocks of the right
intensities, so every test image has a known, content-dependent transcription.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from starnet_trt.metadata import DEFAULT_CHARSET, ModelInfo, Preprocess

HEIGHT, WIDTH, STEPS = 32, 100, 25
BLOCK = WIDTH // STEPS
BLANK_PIXEL = 128  # normalizes to ~0, the blank's center


def class_centers(num_classes: int) -> np.ndarray:
    """Normalized intensity of each class; index 0 (blank) gets 0."""
    values = np.linspace(-1.0, 1.0, num_classes)
    mid = int(np.argmin(np.abs(values)))
    values[mid] = 0.0
    return np.concatenate([values[mid : mid + 1], values[:mid], values[mid + 1 :]]).astype(np.float32)


def make_model(
    path: str | Path,
    *,
    charset: str = DEFAULT_CHARSET,
    num_classes: int | None = None,
    metadata: bool = True,
    output: str = "probs",
    channels: int = 3,
    batch: int | str = "N",
    alpha: float = 4000.0,
) -> Path:
    """Write a contract-shaped ONNX model to ``path`` and return it.

    Args:
        charset: Charset written to the metadata.
        num_classes: Output classes; defaults to ``len(charset) + 1`` (set it differently to break the contract).
        metadata: Whether to write starnet-trt ``metadata_props``.
        output: ``"probs"`` (ends in Softmax) or ``"logits"`` (no Softmax; metadata says so).
        channels: 3 (BGR) or 1 (gray) input planes.
        batch: Batch dimension, symbolic name or fixed int.
        alpha: Sharpness of the class scores (higher -> confidences closer to 1).
    """
    classes = num_classes if num_classes is not None else len(charset) + 1
    centers = class_centers(classes)
    inits = [
        numpy_helper.from_array(np.array([-1, STEPS, BLOCK], np.int64), "block_shape"),
        numpy_helper.from_array(np.array([2], np.int64), "last_axis"),
        numpy_helper.from_array(centers, "centers"),
        numpy_helper.from_array(np.array(-alpha, np.float32), "neg_alpha"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["col_mean"], axes=[1, 2], keepdims=0),
        helper.make_node("Reshape", ["col_mean", "block_shape"], ["blocks"]),
        helper.make_node("ReduceMean", ["blocks"], ["step_mean"], axes=[2], keepdims=0),
        helper.make_node("Unsqueeze", ["step_mean", "last_axis"], ["step_value"]),
        helper.make_node("Sub", ["step_value", "centers"], ["diff"]),
        helper.make_node("Mul", ["diff", "diff"], ["sq"]),
        helper.make_node("Mul", ["sq", "neg_alpha"], ["logits" if output == "probs" else "probs"]),
    ]
    if output == "probs":
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=-1))
    graph = helper.make_graph(
        nodes,
        "tiny_starnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, channels, HEIGHT, WIDTH])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, STEPS, classes])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="starnet-trt-tests")
    model.ir_version = 8
    if metadata:
        pre = Preprocess(channels=channels, channel_order="bgr" if channels == 3 else "gray")
        info = ModelInfo(charset=charset, arch="tiny_test", preprocess=pre, output=output)
        helper.set_model_props(model, info.to_props())
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def text_image(text: str, *, charset: str = DEFAULT_CHARSET, scale: int = 1, steps: int = STEPS) -> np.ndarray:
    """A BGR uint8 image ``[32*scale, 4*steps*scale, 3]`` that the tiny model reads as ``text``.

    Characters go in even blocks with a blank block after each, so repeated letters survive CTC collapsing;
    ``steps`` < 25 gives a narrower image (the rest of the model input is padding, which decodes to blank).
    """
    if 2 * len(text) > steps:
        raise ValueError(f"{text!r} needs {2 * len(text)} blocks, the image has {steps}")
    centers = class_centers(len(charset) + 1)
    values = np.full(steps, BLANK_PIXEL, np.uint8)
    for i, ch in enumerate(text):
        values[2 * i] = np.uint8(np.clip(np.rint((centers[charset.index(ch) + 1] + 1.0) * 127.5), 0, 255))
    row = np.repeat(values, BLOCK * scale)
    return np.ascontiguousarray(np.broadcast_to(row[None, :, None], (HEIGHT * scale, row.size, 3)))
