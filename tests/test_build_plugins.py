"""Plugin graph surgery: the rewritten graph runs in ONNX Runtime with the plugins' CPU twins as custom ops and
matches the original graph; the builder wires the plugin library in when one is found."""

from __future__ import annotations

import importlib.util

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

torch = pytest.importorskip("torch", reason="the STAR-Net test models are exported from PyTorch")
ort = pytest.importorskip("onnxruntime")

from starnet_trt import builder  # noqa: E402
from starnet_trt.graph.plugins import DECODE_OP, PLUGIN_DOMAIN, TPS_OP, insert_plugins  # noqa: E402
from starnet_trt.metadata import DEFAULT_CHARSET  # noqa: E402
from starnet_trt.ops import ctc_greedy_decode  # noqa: E402

ARCHS = ["starnet_mv3", "starnet_r34_vd"]
TOLERANCE = 1e-4
needs_extensions = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime_extensions") is None,
    reason="needs onnxruntime-extensions (pip install onnxruntime-extensions) for the plugin twins",
)
needs_rtx = pytest.mark.skipif(
    importlib.util.find_spec("tensorrt_rtx") is None, reason="needs tensorrt_rtx (pip install 'starnet-trt[rtx]')"
)


@pytest.fixture(scope="module", params=ARCHS)
def exported(request, tmp_path_factory):
    """A model with a non-trivial TPS (random fiducial regressor) and sharp outputs."""
    from starnet_trt.export import export_model
    from starnet_trt.model import build_model

    torch.manual_seed(1)
    model = build_model(request.param)
    with torch.no_grad():
        model.transform.loc_net.fc2.weight.normal_(0.0, 0.05)
        model.head.weight.mul_(20.0)
    return export_model(model, tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx", charset=DEFAULT_CHARSET)


def _sampler_output(proto) -> str:
    return next(n for n in proto.graph.node if n.op_type == "GridSample").output[0]


def _expose(proto, name: str):
    """A copy of ``proto`` that also outputs the tensor ``name``."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    copy.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    return copy


def _grid_constant(proto) -> np.ndarray:
    matmul = next(n for n in proto.graph.node if n.op_type == "MatMul" and n.name.startswith("/transform/"))
    constant = next(n for n in proto.graph.node if matmul.input[0] in n.output)
    return numpy_helper.to_array(constant.attribute[0].t)


@pytest.mark.parametrize("tps_rows", ["table", "on-the-fly"])
def test_rewritten_structure(exported, tps_rows):
    proto = onnx.load(str(exported))
    rewritten, plugins = insert_plugins(proto, tps_rows=tps_rows)
    assert [p.name for p in plugins] == [TPS_OP, DECODE_OP]
    ops = [n.op_type for n in rewritten.graph.node]
    assert "GridSample" not in ops and ops.count(TPS_OP) == 1 and ops[-1] == DECODE_OP
    tps = next(n for n in rewritten.graph.node if n.op_type == TPS_OP)
    attrs = {a.name: helper.get_attribute_value(a) for a in tps.attribute}
    assert attrs["out_height"] == 32 and attrs["out_width"] == 100 and attrs["align_corners"] == 1
    assert attrs["padding_mode"] == b"zeros" and attrs["plugin_version"] == b"1"
    assert tps.domain == PLUGIN_DOMAIN and tps.input[0] == "x"
    if tps_rows == "table":  # the model's own float32 matrix is the third input
        table = next(t for t in rewritten.graph.initializer if t.name == tps.input[2])
        assert table.data_type == TensorProto.FLOAT
        np.testing.assert_array_equal(numpy_helper.to_array(table), _grid_constant(proto))
    else:
        assert len(tps.input) == 2
    assert len(rewritten.graph.node) < len(proto.graph.node)  # the grid MatMul/Reshape and matrix are gone
    assert not any(n.op_type == "MatMul" and n.name.startswith("/transform/") for n in rewritten.graph.node)
    assert [o.name for o in rewritten.graph.output] == ["indices", "lengths", "confidence"]
    assert {p.key: p.value for p in rewritten.metadata_props} == {p.key: p.value for p in proto.metadata_props}
    onnx.checker.check_model(rewritten)
    assert [n.op_type for n in proto.graph.node].count("GridSample") == 1  # input untouched


@needs_extensions
@pytest.mark.parametrize("tps_rows", ["table", "on-the-fly"])
def test_plugin_graph_matches_original_in_onnxruntime(exported, tps_rows):
    from starnet_trt.graph.plugin_twins import plugin_session

    proto = onnx.load(str(exported))
    rectified = _sampler_output(proto)
    tapped = _expose(proto, rectified)
    rewritten, _ = insert_plugins(tapped, keep_probs=True, tps_rows=tps_rows)
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (6, 3, 32, 100)).astype(np.float32)
    outputs = ort.InferenceSession(tapped.SerializeToString()).run(None, {"x": x})
    ref = dict(zip(["probs", rectified], outputs, strict=True))
    names = [o.name for o in rewritten.graph.output]
    got = dict(zip(names, plugin_session(rewritten).run(None, {"x": x}), strict=True))
    assert names == ["probs", rectified, "indices", "lengths", "confidence"]
    assert np.abs(ref[rectified] - x).max() > 0.1, "the test TPS must actually move pixels"
    np.testing.assert_allclose(got[rectified], ref[rectified], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(got["probs"], ref["probs"], atol=TOLERANCE, rtol=0)
    indices, lengths, confidence = ctc_greedy_decode(ref["probs"])
    np.testing.assert_array_equal(got["indices"], indices)
    np.testing.assert_array_equal(got["lengths"], lengths)
    np.testing.assert_allclose(got["confidence"], confidence, atol=TOLERANCE)
    assert lengths.max() > 0


def _with_other_matrix(proto):
    """``proto`` with its TPS grid matrix changed (not STAR-Net's TPS any more)."""
    matmul = next(n for n in proto.graph.node if n.op_type == "MatMul" and n.name.startswith("/transform/"))
    constant = next(n for n in proto.graph.node if matmul.input[0] in n.output)
    value = numpy_helper.to_array(constant.attribute[0].t).copy()
    value[:, 0] += 0.05
    constant.attribute[0].t.CopyFrom(numpy_helper.from_array(value))
    return proto


def test_a_different_grid_matrix_is_refused_on_the_fly(exported):
    proto = _with_other_matrix(onnx.load(str(exported)))
    with pytest.raises(ValueError, match="differs from STAR-Net"):
        insert_plugins(proto, tps_rows="on-the-fly")
    _, plugins = insert_plugins(proto, tps=False)
    assert [p.name for p in plugins] == [DECODE_OP]
    with pytest.raises(ValueError, match="tps_rows must be one of"):
        insert_plugins(proto, tps_rows="double")


@needs_extensions
def test_table_mode_keeps_any_grid_matrix_meaning(exported):
    """Table mode samples with the graph's own matrix, so a model whose matrix is not STAR-Net's keeps its meaning."""
    from starnet_trt.graph.plugin_twins import plugin_session

    proto = _with_other_matrix(onnx.load(str(exported)))
    rectified = _sampler_output(proto)
    tapped = _expose(proto, rectified)
    rewritten, _ = insert_plugins(tapped, keep_probs=True)
    x = np.random.default_rng(3).uniform(-1.0, 1.0, (3, 3, 32, 100)).astype(np.float32)
    ref = ort.InferenceSession(tapped.SerializeToString()).run([rectified], {"x": x})[0]
    got = dict(
        zip([o.name for o in rewritten.graph.output], plugin_session(rewritten).run(None, {"x": x}), strict=True)
    )
    np.testing.assert_allclose(got[rectified], ref, atol=TOLERANCE, rtol=0)


def test_bad_table_shapes_are_refused(exported):
    proto = onnx.load(str(exported))
    matmul = next(n for n in proto.graph.node if n.op_type == "MatMul" and n.name.startswith("/transform/"))
    constant = next(n for n in proto.graph.node if matmul.input[0] in n.output)
    value = numpy_helper.to_array(constant.attribute[0].t)
    constant.attribute[0].t.CopyFrom(numpy_helper.from_array(np.concatenate([value, value[:, :1]], axis=1)))
    with pytest.raises(ValueError, match="21 columns"):
        insert_plugins(proto)
    nan = value.copy()
    nan[5, 3] = np.nan
    constant.attribute[0].t.CopyFrom(numpy_helper.from_array(nan))
    with pytest.raises(ValueError, match="non-finite"):
        insert_plugins(proto)


def test_fp16_typing_keeps_the_tps_table_float32(exported):
    from starnet_trt.graph.fp16 import convert_to_fp16

    rewritten, _ = insert_plugins(onnx.load(str(exported)))
    typed = convert_to_fp16(rewritten)
    tps = next(n for n in typed.graph.node if n.op_type == TPS_OP)
    assert next(t for t in typed.graph.initializer if t.name == tps.input[2]).data_type == TensorProto.FLOAT
    # while the rest of the model's weights are float16
    conv_weights = {n.input[1] for n in typed.graph.node if n.op_type == "Conv"}
    assert {t.data_type for t in typed.graph.initializer if t.name in conv_weights} == {TensorProto.FLOAT16}


def test_builder_reports_a_missing_plugin_library(exported, tmp_path, monkeypatch, capsys):
    from starnet_trt.cli import main

    monkeypatch.setenv(builder.PLUGIN_LIBRARY_ENV, str(tmp_path / "libstarnet_plugins.so"))
    code = main(["build", "--onnx", str(exported), "-o", str(tmp_path / "e.engine")])
    err = capsys.readouterr().err
    assert code == 2 and "plugin library not found" in err and "Traceback" not in err
    assert builder.find_plugin_library.__doc__  # documented lookup order


@needs_rtx
def test_tensorrt_rtx_builds_native_layers_even_when_a_library_is_found(exported, tmp_path, monkeypatch):
    """TensorRT-RTX has no plugin layers (its parser aborts the process on a plugin node): never give it one."""
    fake = tmp_path / "libstarnet_plugins.so"
    fake.write_bytes(b"")
    monkeypatch.setenv(builder.PLUGIN_LIBRARY_ENV, str(fake))
    lines: list[str] = []
    result = builder.build_engine(exported, tmp_path / "a.engine", trt="tensorrt_rtx", batch="1", progress=lines.append)
    assert result.sidecar["plugins"] == []
    assert any("TensorRT-RTX has no plugin layers" in line for line in lines)


@needs_rtx
def test_a_library_tensorrt_cannot_load_is_reported(tmp_path):
    fake = tmp_path / "libstarnet_plugins.so"
    fake.write_bytes(b"not a shared object")
    tensorrt = builder.load_tensorrt("tensorrt_rtx")
    logger = builder._make_logger(tensorrt.module)
    trt_builder = tensorrt.module.Builder(logger)
    build = builder._Build(tensorrt, logger, trt_builder, None, None)
    with pytest.raises(RuntimeError, match="cannot load the plugin library"):
        builder._load_plugin_library(build, fake)
