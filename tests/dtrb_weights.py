"""Deterministic weights for the DTRB parity fixture, by DTRB state-dict name and shape.

tools/dtrb_fixtures/make_fixtures.py loads these into DTRB's own TPS-ResNet-BiLSTM-CTC and records its outputs;
tests/test_dtrb_parity.py regenerates the same state dict from the names and shapes stored in the fixture, so the
fixture holds no weights (the full-size model has 49M parameters).
"""

from __future__ import annotations

import zlib

import numpy as np
from paddle_weights import initial_fiducials  # the RARE prior both fixtures start the TPS head at


def weight(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """The value of DTRB parameter ``name``: fan-in-scaled normals, BN statistics in sane ranges, the TPS head near
    the RARE prior (so the rectification moves pixels without leaving the image)."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    shape = tuple(int(s) for s in shape)
    if name.endswith("num_batches_tracked"):
        return np.zeros(shape, np.int64)
    if name.endswith("localization_fc2.bias"):
        return (initial_fiducials().reshape(-1) + rng.normal(0, 0.05, shape)).astype(np.float32)
    if name.endswith("localization_fc2.weight"):
        return rng.normal(0, 0.02, shape).astype(np.float32)
    if name.endswith("running_var"):
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    if name.endswith("running_mean"):
        return rng.normal(0, 0.1, shape).astype(np.float32)
    if name == "Prediction.weight":  # large enough that the softmax is far from uniform
        return rng.normal(0, 30.0 / np.sqrt(shape[1]), shape).astype(np.float32)
    if name.startswith(("SequenceModeling.", "Prediction.")) and name.endswith("bias"):
        # Small: with random weights the BiLSTM output is mostly a constant offset, and a constant offset makes
        # one class win at every time step, which would leave the argmax comparison nothing to compare.
        return rng.normal(0.0, 0.01, shape).astype(np.float32)
    if len(shape) == 1:  # the only 1-D ".weight"s are BatchNorm scales: near 1; biases and BN shifts near 0
        return rng.normal(1.0 if name.endswith(".weight") else 0.0, 0.1, shape).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))  # conv [out, in, kh, kw], Linear/LSTM [out, in]
    return rng.normal(0, 1.0 / np.sqrt(fan_in), shape).astype(np.float32)


def state_dict(names_and_shapes: list[tuple[str, tuple[int, ...]]], seed: int) -> dict[str, np.ndarray]:
    return {name: weight(name, tuple(shape), seed) for name, shape in names_and_shapes}
