"""Parity with DTRB's own TPS-ResNet-BiLSTM-CTC code, stage by stage and end to end (fixture made by
tools/dtrb_fixtures/make_fixtures.py).

The state dict is rebuilt from the names and shapes DTRB's model reported, the deterministic weights of
tests/dtrb_weights.py and DTRB's own TPS constants, saved as DTRB saves it (``torch.save`` of the state dict, with
and without DataParallel's ``module.`` prefix), converted with ``convert_dtrb`` and run in float32 and float64.
Each stage must be as close to DTRB as DTRB's float32 run is to the float64 evaluation, with a floor for float32
rounding; the argmax must be identical everywhere and the probabilities within 2e-3. DTRB's own float64 outputs
(small stages) check that our float64 evaluation computes the same function."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from starnet_trt.convert import convert_dtrb
from starnet_trt.export import export_model
from starnet_trt.metadata import DEFAULT_CHARSET, ModelInfo
from starnet_trt.model.dtrb import DTRB_RBF_EPS
from starnet_trt.model.tps import tps_grid_matrix

HERE = Path(__file__).resolve().parent
STAGES = ("fiducials", "grid", "rectified", "features", "neck", "probs")
sys.path.insert(0, str(HERE))
from dtrb_weights import state_dict  # noqa: E402


@pytest.fixture(scope="module")
def fixture():
    data = np.load(HERE / "fixtures" / "dtrb_trbc.npz")
    return data, json.loads(bytes(data["meta"]).decode())


def dtrb_state(data, meta, prefix: str = "") -> dict[str, torch.Tensor]:
    weights = state_dict([(n, tuple(s)) for n, s in meta["names"]], meta["seed"])
    weights["Transformation.GridGenerator.inv_delta_C"] = data["const_inv_delta_C"]
    weights["Transformation.GridGenerator.P_hat"] = data["const_P_hat"]
    return {prefix + k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()}


@pytest.fixture(scope="module", params=["", "module."], ids=["plain", "DataParallel"])
def converted(request, fixture, tmp_path_factory):
    data, meta = fixture
    path = tmp_path_factory.mktemp("dtrb") / "TPS-ResNet-BiLSTM-CTC.pth"
    torch.save(dtrb_state(data, meta, request.param), path)
    model, charset, extra = convert_dtrb(path)
    assert model.arch == "dtrb_trbc" and charset == DEFAULT_CHARSET
    assert extra["starnet.converted_from"] == "DTRB TPS-ResNet-BiLSTM-CTC.pth"
    return model


def _stages(model, x: torch.Tensor) -> dict[str, np.ndarray]:
    with torch.no_grad():
        fid = model.transform.loc_net(x)
        grid = model.transform.grid(fid)
        rect = model.transform(x)
        feat = model.backbone(rect)
        seq = model.neck(feat.mean(dim=2).transpose(1, 2))
        probs = torch.softmax(model.head(seq), dim=2)
        assert torch.equal(probs, model(x)), "the stages must compose to the model's forward"
    out = {"fiducials": fid, "grid": grid, "rectified": rect, "features": feat, "neck": seq, "probs": probs}
    return {k: v.numpy() for k, v in out.items()}


def test_every_stage_matches_dtrb(fixture, converted):
    data, _ = fixture
    model = converted
    x = data["input"]
    ours32 = {k: v.astype(np.float64) for k, v in _stages(model.float(), torch.from_numpy(x)).items()}
    model.double()
    # The folded TPS matrix is a float32 buffer; the float64 evaluation needs it unrounded.
    model.transform.grid_matrix = torch.from_numpy(tps_grid_matrix(20, 32, 100, eps=DTRB_RBF_EPS))
    ours64 = _stages(model, torch.from_numpy(x).double())
    model.float()
    report = {}
    for stage in STAGES:
        dtrb = data[f"{stage}_float32"].astype(np.float64)
        ours_err = float(np.abs(ours32[stage] - dtrb).max())
        dtrb_err = float(np.abs(dtrb - ours64[stage]).max())
        report[stage] = (ours_err, dtrb_err)
        floor = 1e-5 * max(1.0, float(np.abs(dtrb).max()))
        assert ours_err <= max(2.0 * dtrb_err, floor), (stage, ours_err, dtrb_err)
        if f"{stage}_float64" in data:  # our float64 evaluation is DTRB's function, not just close to it
            np.testing.assert_allclose(ours64[stage], data[f"{stage}_float64"], atol=1e-9, rtol=0)
    print("\n" + "\n".join(f"{k:10s} |ours-dtrb| {a:.2e}   |dtrb-float64| {b:.2e}" for k, (a, b) in report.items()))
    probs = data["probs_float32"]
    np.testing.assert_allclose(ours32["probs"], probs, atol=2e-3, rtol=0)
    assert (ours32["probs"].argmax(-1) == probs.argmax(-1)).all()


def test_exported_onnx_matches_dtrb_in_onnx_runtime(fixture, converted, tmp_path):
    data, _ = fixture
    out = export_model(converted, tmp_path / "dtrb.onnx", charset=DEFAULT_CHARSET)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    info = ModelInfo.from_props(session.get_modelmeta().custom_metadata_map)
    assert info.arch == "dtrb_trbc"
    assert (info.preprocess.channels, info.preprocess.channel_order, info.preprocess.resize) == (1, "gray", "stretch")
    assert [d for d in session.get_inputs()[0].shape[1:]] == [1, 32, 100]
    assert session.get_outputs()[0].shape[1:] == [26, 37]
    probs = session.run(None, {"x": data["input"]})[0]
    np.testing.assert_allclose(probs, data["probs_float32"], atol=2e-3, rtol=0)
    assert (probs.argmax(-1) == data["probs_float32"].argmax(-1)).all()
    ops = {n.op_type for n in __import__("onnx").load(str(out)).graph.node}
    assert "GridSample" in ops and "MatMul" in ops and not ops & {"Inverse", "Einsum"}


def test_the_fixture_exercises_every_stage(fixture):
    data, meta = fixture
    assert np.abs(data["rectified_float32"] - data["input"]).max() > 0.1, "the fiducials must move pixels"
    assert len(set(data["probs_float32"].argmax(-1).ravel())) >= 2, "the outputs must not be degenerate"
    spread = min(data[f"{k}_float32"].std(axis=0).max() for k in ("features", "neck", "probs"))
    assert spread > 1e-3, "every stage must depend on the input"
    assert sum(int(np.prod(s)) for _, s in meta["names"]) > 48_000_000, "the full-size DTRB model, not a toy"
