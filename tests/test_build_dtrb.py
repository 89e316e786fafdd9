"""A dtrb_trbc ONNX through the builder: the TPS plugin surgery keeps DTRB's border padding and align_corners, the
plugin's sampler (its CPU twin) reproduces DTRB's own rectification, and TensorRT-RTX builds the engine on the CPU
with the DTRB preprocessing in the sidecar."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

torch = pytest.importorskip("torch", reason="the DTRB test model is exported from PyTorch")

from starnet_trt.builder import build_engine  # noqa: E402
from starnet_trt.graph.plugins import TPS_OP, insert_plugins  # noqa: E402
from starnet_trt.metadata import DEFAULT_CHARSET  # noqa: E402
from starnet_trt.ops import tps_grid_sample  # noqa: E402

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "dtrb_trbc.npz"
needs_rtx = pytest.mark.skipif(
    importlib.util.find_spec("tensorrt_rtx") is None, reason="needs tensorrt_rtx (pip install 'starnet-trt[rtx]')"
)


@pytest.fixture(scope="module")
def dtrb_onnx(tmp_path_factory):
    from starnet_trt.export import export_model
    from starnet_trt.model import build_model

    torch.manual_seed(0)
    model = build_model("dtrb_trbc")
    with torch.no_grad():
        model.transform.loc_net.fc2.weight.normal_(0.0, 0.05)
    return export_model(model, tmp_path_factory.mktemp("onnx") / "dtrb.onnx", charset=DEFAULT_CHARSET)


def test_plugin_surgery_keeps_border_padding_and_align_corners(dtrb_onnx):
    rewritten, plugins = insert_plugins(onnx.load(str(dtrb_onnx)))  # the grid matrix check passes: same TPS basis
    assert plugins[0].name == TPS_OP
    tps = next(n for n in rewritten.graph.node if n.op_type == TPS_OP)
    attrs = {a.name: helper.get_attribute_value(a) for a in tps.attribute}
    assert attrs["padding_mode"] == b"border" and attrs["align_corners"] == 1
    assert (attrs["out_height"], attrs["out_width"]) == (32, 100) and tps.input[0] == "x"


def test_the_plugin_sampler_reproduces_dtrbs_rectification():
    """The plugin evaluates the TPS from the fiducials (radial basis r^2 log(r + 1e-6), DTRB's eps) and samples with
    border padding: on DTRB's own fiducials it gives DTRB's rectified image within DTRB's own float32 error."""
    data = np.load(FIXTURE)
    meta = json.loads(bytes(data["meta"]).decode())
    got = tps_grid_sample(data["input"], data["fiducials_float32"], 32, 100, align_corners=True, padding_mode="border")
    err = float(np.abs(got - data["rectified_float32"]).max())
    assert err <= 2 * meta["dtrb_float32_vs_float64"]["rectified"], err
    zeros = tps_grid_sample(data["input"], data["fiducials_float32"], 32, 100, align_corners=True)
    assert np.abs(zeros - data["rectified_float32"]).max() > 0.1, "zero padding must be told apart from border"


@needs_rtx
def test_tensorrt_rtx_builds_a_dtrb_engine(dtrb_onnx, tmp_path):
    lines: list[str] = []
    result = build_engine(dtrb_onnx, tmp_path / "dtrb.engine", trt="tensorrt_rtx", batch="1:2:4", progress=lines.append)
    assert (tmp_path / "dtrb.engine").stat().st_size > 1_000_000
    sidecar = result.sidecar
    assert sidecar["plugins"] == []  # TensorRT-RTX has no plugin layers: native GridSample (border) instead
    pre = sidecar["preprocess"]
    assert (pre["channels"], pre["channel_order"], pre["resize"]) == (1, "gray", "stretch")
