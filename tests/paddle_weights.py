"""Deterministic weights for the Paddle parity fixtures, by Paddle parameter name and shape.

tools/paddle_fixtures/make_fixtures.py loads these into PaddleOCR's own model (under paddlepaddle) and records
its outputs; tests/test_paddle_parity.py regenerates the same checkpoint from the names and shapes stored in the
fixture, so the fixture holds no weights (it stays small even for full-size models).
"""

from __future__ import annotations

import re
import zlib

import numpy as np

# Paddle's nn.LSTM lists every weight twice in its state_dict: under the cell (lstm.0.cell_fw.weight_ih) and
# under a flattened alias (lstm.weight_ih_l0) that shares the cell's storage, so both hold the same values.
_LSTM_ALIAS = re.compile(r"(.*\.lstm)\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?")


def canonical(name: str) -> str:
    m = _LSTM_ALIAS.fullmatch(name)
    if not m:
        return name
    return f"{m.group(1)}.{m.group(3)}.{'cell_bw' if m.group(4) else 'cell_fw'}.{m.group(2)}"


def initial_fiducials(f: int = 20) -> np.ndarray:
    half = f // 2
    xs = np.linspace(-1.0, 1.0, half)
    top = np.stack([xs, np.linspace(0.0, -1.0, half)], axis=1)
    bottom = np.stack([xs, np.linspace(1.0, 0.0, half)], axis=1)
    return np.concatenate([top, bottom], axis=0)


def weight(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """The value of Paddle parameter ``name``: fan-in-scaled normals, BN statistics in sane ranges, the TPS head
    near the RARE prior (so the rectification moves pixels without leaving the image), the inert ex_fc at zero."""
    name = canonical(name)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    shape = tuple(int(s) for s in shape)
    if name.startswith("transform.grid_generator.fc."):
        return np.zeros(shape, np.float32)
    if name == "transform.loc_net.fc2.bias":
        return (initial_fiducials().reshape(-1) + rng.normal(0, 0.05, shape)).astype(np.float32)
    if name == "transform.loc_net.fc2.weight":
        return rng.normal(0, 0.01, shape).astype(np.float32)
    if name.endswith("._variance"):
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    if name.endswith("._mean"):
        return rng.normal(0, 0.1, shape).astype(np.float32)
    if name == "head.fc.weight":  # large enough that the softmax is far from uniform
        return rng.normal(0, 4.0 / np.sqrt(shape[0]), shape).astype(np.float32)
    if len(shape) == 1:  # biases and BN scales/shifts
        scale = name.endswith(("bn.weight", "_batch_norm.weight"))  # BN scales (MobileNetV3, ResNet_vd names)
        return (rng.normal(1.0 if scale else 0.0, 0.1, shape)).astype(np.float32)
    if len(shape) == 4:  # conv [out, in/groups, kh, kw]
        fan_in = shape[1] * shape[2] * shape[3]
    elif "lstm" in name:  # [4 * hidden, in]
        fan_in = shape[1]
    else:  # Paddle Linear [in, out]
        fan_in = shape[0]
    return rng.normal(0, 1.0 / np.sqrt(fan_in), shape).astype(np.float32)


def state_dict(names_and_shapes: list[tuple[str, tuple[int, ...]]], seed: int) -> dict[str, np.ndarray]:
    return {name: weight(name, tuple(shape), seed) for name, shape in names_and_shapes}
