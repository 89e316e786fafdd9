"""The streamed percentile calibrator: exact on known data, batching-independent, bounded, same as ONNX Runtime's."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from starnet_trt import activation_ranges as ar


def _model() -> onnx.ModelProto:
    """x -> Relu -> r; x * 3 (constant) -> m; r + m -> y. Float tensors: x, r, m, y (the constant is not one)."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Constant", [], ["three"], name="c", value=numpy_helper.from_array(np.float32(3.0))),
        helper.make_node("Mul", ["x", "three"], ["m"], name="mul"),
        helper.make_node("Add", ["r", "m"], ["y"], name="add"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 64])],
    )
    # IR 8: what every supported ONNX Runtime (>= 1.17) loads, whatever the installed onnx writes by default.
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _feeds(data: np.ndarray, batch: int):
    return lambda: ({"x": data[i : i + batch]} for i in range(0, len(data), batch))


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 64)).astype(np.float32)
    x[7, 5] = 40.0  # one outlier: max |x| is far above the percentile
    return x


def test_float_activations_are_the_computed_float_tensors():
    assert ar.float_activations(_model()) == ["x", "r", "m", "y"]


def test_percentile_holds_the_share_within_one_bin(data):
    bins = 2048
    got = ar.percentile_ranges(_model(), _feeds(data, 64), percentile=99.9, bins=bins)
    values = {"x": data, "r": np.maximum(data, 0), "m": data * 3, "y": np.maximum(data, 0) + data * 3}
    for name, v in values.items():
        a = np.sort(np.abs(v).ravel())
        width = a[-1] / bins
        exact = a[int(np.ceil(0.999 * a.size)) - 1]  # the smallest |x| with 99.9% of the values at or below it
        assert exact * (1 - 1e-6) <= got[name] <= exact + width * 1.0001, name
        assert np.mean(a <= got[name] * (1 + 1e-6)) >= 0.999, name  # the range really holds 99.9% of |x|
    assert got["x"] < 10  # the outlier (40) is clipped


def test_hundred_is_the_maximum_and_batching_does_not_matter(data):
    top = ar.percentile_ranges(_model(), _feeds(data, 300), percentile=100)
    assert top["x"] == pytest.approx(40.0) and top["m"] == pytest.approx(120.0)
    one = ar.percentile_ranges(_model(), _feeds(data, 300))
    many = ar.percentile_ranges(_model(), _feeds(data, 7))
    assert one == many


def test_relu_input_takes_its_output_range_when_read_by_it_alone():
    ranges = {"x": 5.0, "r": 2.0, "m": 9.0, "y": 10.0}
    assert ar.relu_adjusted(_model(), ranges) == ranges  # x is also read by Mul: kept
    relu_only = helper.make_model(
        helper.make_graph(
            [helper.make_node("Relu", ["x"], ["r"], name="relu")],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
            [helper.make_tensor_value_info("r", TensorProto.FLOAT, [2])],
        ),
        ir_version=8,
    )
    assert ar.relu_adjusted(relu_only, {"x": 5.0, "r": 2.0}) == {"x": 2.0, "r": 2.0}


def test_bad_arguments_and_non_finite_activations(data):
    for bad in (0, -1, 100.5, float("nan")):
        with pytest.raises(ValueError, match="percentile"):
            ar.percentile_ranges(_model(), _feeds(data, 64), percentile=bad)
    for bad in (True, "99.9", None):
        with pytest.raises(TypeError, match="percentile"):
            ar.percentile_ranges(_model(), _feeds(data, 64), percentile=bad)
    with pytest.raises(ValueError, match="bins"):
        ar.percentile_ranges(_model(), _feeds(data, 64), bins=4)
    with pytest.raises(ValueError, match="no batches"):
        ar.percentile_ranges(_model(), lambda: iter(()))
    broken = data.copy()
    broken[3, 3] = np.inf
    with pytest.raises(ValueError, match="not finite"):
        ar.percentile_ranges(_model(), _feeds(broken, 64))
