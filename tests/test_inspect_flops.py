"""count_flops: the matrix work per image that the CPU comparison's roofline divides by the machine's peak."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from starnet_trt.inspect_model import count_flops, format_inspection, inspect_model

BUNDLED = Path(__file__).resolve().parents[1] / "starnet_trt" / "models" / "starnet_mv3.onnx"


def small_model() -> onnx.ModelProto:
    # x [N, 4, 8, 10] -> grouped 3x3 conv (6 out, group 2, pad 1) -> [N, 6, 8, 10] -> flatten -> Gemm to 5;
    # and an LSTM (hidden 7) on x viewed as a sequence [T=8, N, 40].
    w = numpy_helper.from_array(np.zeros((6, 2, 3, 3), np.float32), "w")
    g = numpy_helper.from_array(np.zeros((480, 5), np.float32), "g")
    lw = numpy_helper.from_array(np.zeros((1, 4 * 7, 40), np.float32), "lw")
    lr = numpy_helper.from_array(np.zeros((1, 4 * 7, 7), np.float32), "lr")
    perm_shape = numpy_helper.from_array(np.array([0, 0, 40], np.int64), "seq_shape")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], group=2, pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["c"], ["f"]),
        helper.make_node("Gemm", ["f", "g"], ["y"]),
        helper.make_node("Transpose", ["x"], ["xt"], perm=[2, 0, 1, 3]),  # [8, N, 4, 10]
        helper.make_node("Reshape", ["xt", "seq_shape"], ["seq"]),  # [8, N, 40]
        helper.make_node("LSTM", ["seq", "lw", "lr"], ["h"], hidden_size=7),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8, 10])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("h", TensorProto.FLOAT, None),
        ],
        [w, g, lw, lr, perm_shape],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_counts_by_op_type():
    flops = count_flops(small_model())
    assert flops["Conv"] == 2 * (6 * 8 * 10) * (2 * 3 * 3)
    assert flops["Gemm"] == 2 * 5 * 480
    assert flops["LSTM"] == 2 * 8 * 1 * (28 * 40 + 28 * 7)
    assert set(flops) == {"Conv", "Gemm", "LSTM"}


def test_bundled_model_work_and_inspect_line():
    info = inspect_model(BUNDLED)
    flops = info["flops_per_image"]
    # MobileNetV3 backbone + TPS localization convs, two BiLSTM layers (T=25, hidden 96, in 480 then 192).
    assert flops["LSTM"] == 2 * 25 * 2 * 384 * ((480 + 96) + (192 + 96))
    assert 120e6 < flops["Conv"] < 140e6
    assert "MFLOP per image" in format_inspection(info)
