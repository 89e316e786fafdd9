"""Explicit INT8: the Q/DQ format TensorRT fuses, the precision policy, calibration input, ONNX Runtime parity."""

from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

torch = pytest.importorskip("torch", reason="the STAR-Net test model is exported from PyTorch")
ort = pytest.importorskip("onnxruntime")

from starnet_trt import Recognizer  # noqa: E402
from starnet_trt.metadata import DEFAULT_CHARSET  # noqa: E402
from starnet_trt.quantize import (  # noqa: E402
    DEFAULT_FLOAT_STEM,
    PrecisionPolicy,
    StarNetCalibrationReader,
    float_nodes,
    load_calibration_images,
    quantize_model,
)


@pytest.fixture(scope="module")
def mv3(tmp_path_factory):
    from starnet_trt.export import export_model
    from starnet_trt.model import build_model

    torch.manual_seed(0)
    model = build_model("starnet_mv3")
    with torch.no_grad():  # non-trivial BN statistics, so activations have real ranges to calibrate
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 1.5)
    return export_model(model, tmp_path_factory.mktemp("onnx") / "mv3.onnx", charset=DEFAULT_CHARSET)


@pytest.fixture(scope="module")
def calib_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calib")
    rng = np.random.default_rng(1)
    for i in range(12):
        h, w = int(rng.integers(16, 80)), int(rng.integers(30, 400))
        cv2.imwrite(str(folder / f"w{i:02d}.png"), rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="module")
def quantized(mv3, calib_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("q") / "mv3.int8.onnx"
    return quantize_model(mv3, calib_dir, out, calib_count=8)


def _conv_weight_peaks(proto) -> list[int]:
    """Largest |int8 value| of each quantized convolution weight."""
    inits = {t.name: t for t in proto.graph.initializer}
    conv_weights = {n.input[1] for n in proto.graph.node if n.op_type == "Conv"}
    dqs = [n for n in proto.graph.node if n.op_type == "DequantizeLinear" and n.output[0] in conv_weights]
    return [int(np.abs(numpy_helper.to_array(inits[n.input[0]]).astype(np.int32)).max()) for n in dqs]


def test_weights_use_seven_bits_unless_asked(quantized, mv3, calib_dir):
    """x86 CPUs without VNNI saturate u8 x s8 pairs with full-range weights (the bundled model's int8 lost ten points
    on an AVX2-only Zen 3), so weights stay within [-64, 64] by default; --full-range-weights gives [-127, 127]."""
    peaks = _conv_weight_peaks(quantized.proto)
    assert peaks and max(peaks) <= 64 and max(peaks) >= 63, peaks
    record = json.loads({p.key: p.value for p in quantized.proto.metadata_props}["starnet.quantization"])
    assert record["weights"].endswith("7-bit range") and record["policy"]["full_range_weights"] is False
    full = quantize_model(mv3, calib_dir, None, calib_count=8, policy=PrecisionPolicy(full_range_weights=True))
    assert max(_conv_weight_peaks(full.proto)) == 127
    record = json.loads({p.key: p.value for p in full.proto.metadata_props}["starnet.quantization"])
    assert record["weights"].endswith("full range") and record["policy"]["full_range_weights"] is True


def _tps_nodes(graph) -> set[str]:
    return {n.name for n in graph.node if n.name.startswith("/transform/loc_net/")}


def _dq_inputs(graph) -> dict[str, bool]:
    """node name -> whether any input comes from a DequantizeLinear."""
    dq_out = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    return {n.name: any(i in dq_out for i in n.input) for n in graph.node}


def test_qdq_format_is_what_tensorrt_fuses(quantized):
    graph = quantized.proto.graph
    inits = {t.name: t for t in graph.initializer}
    qs = [n for n in graph.node if n.op_type == "QuantizeLinear"]
    dqs = [n for n in graph.node if n.op_type == "DequantizeLinear"]
    assert qs and dqs
    for node in qs + dqs:
        zero_point = numpy_helper.to_array(inits[node.input[2]])
        assert zero_point.dtype == np.int8 and not zero_point.any(), f"{node.name}: zero point must be int8 0"
    weight_dqs = [n for n in dqs if n.input[0] in inits]
    assert weight_dqs, "weights are int8 initializers feeding a DequantizeLinear"
    for node in weight_dqs:
        # no int32 bias DequantizeLinear: TensorRT's parser rejects it
        assert numpy_helper.to_array(inits[node.input[0]]).dtype == np.int8, node.name
    conv_weights = {n.input[1] for n in graph.node if n.op_type == "Conv"}
    per_channel = [n for n in weight_dqs if n.output[0] in conv_weights]
    assert per_channel
    for node in per_channel:
        scale = numpy_helper.to_array(inits[node.input[1]])
        weight = numpy_helper.to_array(inits[node.input[0]])
        assert scale.ndim == 1 and scale.shape[0] == weight.shape[0], "per-channel scales on axis 0"
    props = {p.key: p.value for p in quantized.proto.metadata_props}
    assert props["character"] == "\n".join(DEFAULT_CHARSET)
    record = json.loads(props["starnet.quantization"])
    assert record["calibration_images"] == 8 and record["method"] == "percentile"
    assert quantized.path is not None and quantized.path.is_file()
    onnx.checker.check_model(onnx.load(str(quantized.path)))


def test_default_policy_keeps_tps_lstm_head_float(quantized):
    graph = quantized.proto.graph
    has_dq = _dq_inputs(graph)
    assert not any(has_dq[n] for n in _tps_nodes(graph))
    for node in graph.node:
        if node.op_type in ("LSTM", "Softmax", "GridSample") or node.name.startswith("/head/"):
            assert not has_dq[node.name], node.name
    backbone_convs = [n.name for n in graph.node if n.op_type == "Conv" and n.name.startswith("/backbone/")]
    assert sum(has_dq[n] for n in backbone_convs) > len(backbone_convs) // 2
    assert quantized.quantized_nodes > 40
    # The SE blocks' hard-sigmoid arithmetic on constants stays float (OpenVINO cannot compile it quantized);
    # the residual Adds (two activations) are quantized, except block 0's in the float stem.
    se = [n for n in graph.node if "/mid_se/" in n.name and n.op_type in ("Mul", "Add")]
    scaled = [n for n in se if any("Constant" in i for i in n.input)]
    constant_inputs = [i for n in scaled for i in n.input if "Constant" in i]
    assert constant_inputs and not any(i.endswith("_DequantizeLinear_Output") for i in constant_inputs)
    residual = [n for n in graph.node if n.op_type == "Add" and "/mid_se/" not in n.name and "/backbone/" in n.name]
    assert residual[0].name == "/backbone/blocks/blocks.0/Add" and not has_dq[residual[0].name]
    assert len(residual) > 5 and all(has_dq[n.name] for n in residual[1:])


def test_policy_flags_quantize_tps_and_head(mv3):
    proto = onnx.load(str(mv3))
    default = set(float_nodes(proto, PrecisionPolicy()))
    assert _tps_nodes(proto.graph) <= default
    assert {"/head/MatMul", "/neck/LSTM", "/neck/LSTM_1", "/Softmax"} <= default
    tps = set(float_nodes(proto, PrecisionPolicy(quantize_tps=True)))
    assert not (_tps_nodes(proto.graph) & tps)
    head = set(float_nodes(proto, PrecisionPolicy(quantize_head=True)))
    assert "/head/MatMul" not in head and "/Softmax" in head and "/neck/LSTM_1" in head
    extra = set(float_nodes(proto, PrecisionPolicy(exclude=("/backbone/conv1/conv/Conv", "no_such_node"))))
    assert "/backbone/conv1/conv/Conv" in extra and "no_such_node" not in extra


_BLOCK_CONVS = ("expand", "bottleneck", "linear")


def test_policy_keeps_the_stem_and_depthwise_convolutions_float(mv3):
    proto = onnx.load(str(mv3))
    convs = [n for n in proto.graph.node if n.op_type == "Conv" and n.name.startswith("/backbone/")]
    depthwise = {n.name for n in convs if any(a.name == "group" and a.i > 1 for a in n.attribute)}
    stem = {n.name for n in convs[:DEFAULT_FLOAT_STEM]}
    first_two_blocks = {f"/backbone/blocks/blocks.{b}/{c}_conv/conv/Conv" for b in (0, 1) for c in _BLOCK_CONVS}
    assert DEFAULT_FLOAT_STEM == 7 and depthwise
    assert stem == {"/backbone/conv1/conv/Conv"} | first_two_blocks
    default = set(float_nodes(proto, PrecisionPolicy()))
    assert stem | depthwise <= default
    pointwise = {n.name for n in convs} - stem - depthwise
    assert len(pointwise) > 30 and not pointwise & default  # where the FLOPs are: quantized
    both = set(float_nodes(proto, PrecisionPolicy(quantize_depthwise=True, float_stem=0)))
    assert not (stem | depthwise) & both
    # The stem counts backbone convolutions even when the TPS is quantized (its convs come first in the graph).
    tps = set(float_nodes(proto, PrecisionPolicy(quantize_tps=True, quantize_depthwise=True, float_stem=1)))
    assert "/backbone/conv1/conv/Conv" in tps and not _tps_nodes(proto.graph) & tps
    with pytest.raises(ValueError, match="float_stem"):
        float_nodes(proto, PrecisionPolicy(float_stem=-1))


def test_nodes_reading_only_float_outputs_stay_float(mv3):
    """The residual Add of the float stem, and the activation / SE nodes after a float depthwise convolution, get
    no Q/DQ pair: rounding a float tensor to int8 where no int8 kernel reads it only adds error."""
    proto = onnx.load(str(mv3))
    default = set(float_nodes(proto, PrecisionPolicy()))
    assert "/backbone/blocks/blocks.0/Add" in default
    producers = {o: n for n in proto.graph.node for o in n.output}
    for node in proto.graph.node:
        if node.op_type in ("Relu", "HardSwish") and node.name.startswith("/backbone/"):
            if producers[node.input[0]].name in default:
                assert node.name in default, node.name
    # A quantized convolution's activation stays in the int8 region.
    assert "/backbone/blocks/blocks.2/expand_conv/act/Relu" not in default
    # Only the stem: the residual Add of block 0 reads two float tensors, the Add of block 2 does not.
    stem4 = set(float_nodes(proto, PrecisionPolicy(float_stem=4, quantize_depthwise=True)))
    assert "/backbone/blocks/blocks.0/Add" in stem4 and "/backbone/blocks/blocks.2/Add" not in stem4
    nothing_float = set(float_nodes(proto, PrecisionPolicy(float_stem=0, quantize_depthwise=True)))
    assert "/backbone/blocks/blocks.0/Add" not in nothing_float


def test_onnxruntime_runs_the_qdq_model_close_to_float(mv3, quantized, calib_dir):
    images = load_calibration_images(calib_dir, 4)
    batch = StarNetCalibrationReader(images, _preprocess(mv3), batch_size=4).get_next()
    ref = ort.InferenceSession(str(mv3), providers=["CPUExecutionProvider"]).run(None, batch)[0]
    got = ort.InferenceSession(str(quantized.path), providers=["CPUExecutionProvider"]).run(None, batch)[0]
    assert got.shape == ref.shape == (4, 25, 37)
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-4)
    assert np.abs(got - ref).max() < 0.2


def _preprocess(path):
    from starnet_trt.graph.check import check_onnx

    return check_onnx(path).info.preprocess


def test_calibration_sources(calib_dir, tmp_path):
    assert len(load_calibration_images(calib_dir, 100)) == 12  # notes.txt is not an image
    assert len(load_calibration_images(calib_dir, 5)) == 5
    labels = tmp_path / "gt.txt"
    lines = [f"{p.relative_to(calib_dir.parent)}\tword" for p in sorted(calib_dir.glob("*.png"))]
    labels.write_text("\n".join(lines))
    (tmp_path / calib_dir.name).symlink_to(calib_dir)
    images = load_calibration_images(labels, 3)
    assert len(images) == 3 and all(img.dtype == np.uint8 and img.ndim == 3 for img in images)
    with pytest.raises(ValueError, match="positive"):
        load_calibration_images(calib_dir, 0)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="no readable images"):
        load_calibration_images(broken, 4)


def test_calibration_reader_uses_inference_preprocessing(calib_dir):
    from starnet_trt.metadata import Preprocess
    from starnet_trt.ops import resize_normalize

    images = load_calibration_images(calib_dir, 5)
    reader = StarNetCalibrationReader(images, Preprocess(), batch_size=2)
    batches = [reader.get_next() for _ in range(3)]
    assert reader.get_next() is None
    got = np.concatenate([b["x"] for b in batches])
    np.testing.assert_array_equal(got, resize_normalize(images)[0])
    reader.rewind()
    assert reader.get_next()["x"].shape == (2, 3, 32, 100)


def test_already_quantized_is_refused(quantized, calib_dir):
    with pytest.raises(ValueError, match="already quantized"):
        quantize_model(quantized.path, calib_dir, None)


def _scales(proto) -> dict[str, np.ndarray]:
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    return {n.output[0]: inits[n.input[1]] for n in proto.graph.node if n.op_type == "QuantizeLinear"}


@pytest.mark.parametrize("method", ["percentile", "minmax"])
def test_ranges_do_not_depend_on_calibration_batching(mv3, calib_dir, method):
    """The ranges over 8 images are the same in 1 batch of 8 or 4 batches of 2 (guards against dropped batches)."""
    one = _scales(quantize_model(mv3, calib_dir, None, calib_count=8, batch_size=8, method=method).proto)
    four = _scales(quantize_model(mv3, calib_dir, None, calib_count=8, batch_size=2, method=method).proto)
    assert one.keys() == four.keys() and one
    for name in one:
        np.testing.assert_allclose(four[name], one[name], rtol=1e-5, err_msg=name)


def test_percentile_is_onnxruntimes_percentile_streamed(mv3, calib_dir, quantized):
    """The default calibration: ONNX Runtime's symmetric percentile (which keeps every activation in memory),
    computed in two streamed passes; every activation's int8 scale is its threshold / 127."""
    from onnxruntime.quantization import CalibrationMethod, create_calibrator

    from starnet_trt import activation_ranges as ar

    record = json.loads({p.key: p.value for p in quantized.proto.metadata_props}["starnet.quantization"])
    assert record["method"] == "percentile" and record["percentile"] == 99.999
    images = load_calibration_images(calib_dir, 8)
    reader = StarNetCalibrationReader(images, _preprocess(mv3), batch_size=4)

    def batches():
        reader.rewind()
        while (feed := reader.get_next()) is not None:
            yield feed

    from starnet_trt.graph.cleanup import bypass_initializer_identities

    proto = onnx.load(str(mv3))
    bypass_initializer_identities(proto)  # as quantize_model does
    ours = ar.percentile_ranges(proto, batches)
    calibrator = create_calibrator(
        str(mv3), None, augmented_model_path=str(mv3.parent / "augmented.onnx"),
        calibrate_method=CalibrationMethod.Percentile, extra_options={"symmetric": True},
    )  # fmt: skip
    reader.rewind()
    try:
        calibrator.collect_data(reader)
    except TypeError as error:  # ONNX Runtime 1.17: "iteration over a 0-d array" in its histogram collector
        pytest.skip(f"ONNX Runtime {ort.__version__}'s own percentile calibrator fails here: {error}")
    calibrator.compute_data()
    # ONNX Runtime's threshold from its own |x| histograms, before it clips a symmetric threshold to the *signed*
    # maximum (which cuts tensors whose largest magnitudes are negative; ours keeps the |x| percentile).
    theirs = {}
    for name, entry in calibrator.collector.histogram_dict.items():
        hist, edges = entry[0], entry[1]  # (hist, edges, min, max[, ...]) across ONNX Runtime versions
        theirs[name] = float(edges[np.searchsorted(np.cumsum(hist / hist.sum()), 0.99999)])
    common = [name for name in theirs if name in ours and ours[name] > 0]
    assert len(common) > 100
    for name in common:  # one histogram bin (1/2048 of the |x| span) apart at most
        assert abs(ours[name] - theirs[name]) <= 1.5 * ours[name] / 2048, name

    adjusted = ar.relu_adjusted(proto, ours)
    scales = _scales(quantized.proto)
    activations = [n for n in quantized.proto.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in adjusted]
    assert len(activations) > 60
    for node in activations:
        assert float(scales[node.output[0]]) == pytest.approx(adjusted[node.input[0]] / 127, rel=1e-5), node.name
    assert ar.check_scales(quantized.proto, adjusted) == []  # what quantize_model checks before it returns
    moved = activations[-1].input[0]
    assert moved in ar.check_scales(quantized.proto, {**adjusted, moved: adjusted[moved] * 2})


@pytest.mark.parametrize("tps_rows", ["table", "on-the-fly"])
def test_plugin_surgery_on_the_quantized_graph(quantized, tps_rows):
    """INT8 builds with plugins: the grid MatMul keeps its float constant, so both TPS plugin modes apply."""
    from starnet_trt.graph.plugins import TPS_OP, insert_plugins

    rewritten, plugins = insert_plugins(quantized.proto, tps_rows=tps_rows)
    tps = next(n for n in rewritten.graph.node if n.op_type == TPS_OP)
    assert len(tps.input) == (3 if tps_rows == "table" else 2)
    assert plugins[0].name == TPS_OP
    if tps_rows == "table":
        table = next(t for t in rewritten.graph.initializer if t.name == tps.input[2])
        assert table.data_type == onnx.TensorProto.FLOAT and list(table.dims) == [3200, 20]


def test_no_calibration_set_means_the_shipped_sample_words(mv3, tmp_path, capsys):
    """`starnet-trt quantize` (and `build --int8`) without --calib: the 25 sample words, with a warning."""
    from starnet_trt.cli import main
    from starnet_trt.samples import sample_words_dir

    assert len(load_calibration_images(sample_words_dir(), 100)) == 25
    out = tmp_path / "default.int8.onnx"
    assert main(["quantize", "--onnx", str(mv3), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "calibrating on 25 images" in err
    assert "warning: no calibration set given" in err and "sample words shipped with starnet-trt" in err
    record = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}["starnet.quantization"])
    assert record["calibration_images"] == 25 and record["calibration_source"] == "starnet-trt sample words"


def test_inspect_names_the_calibration(quantized):
    from starnet_trt.inspect_model import format_inspection, inspect_model

    text = format_inspection(inspect_model(quantized.path))
    assert "precision: int8 Q/DQ, percentile 99.999 ranges from 8 images of calib" in text
    assert f"{len(quantized.excluded_nodes)} nodes kept float" in text
    from starnet_trt.inspect_model import _quantization_line

    assert _quantization_line("{not json") == "int8 Q/DQ ({not json)"  # a foreign or broken record: shown raw
    assert _quantization_line('{"method": 3}') == 'int8 Q/DQ ({"method": 3})'


def test_onnxruntime_on_the_cpu_warns_that_qdq_is_slow_there(quantized, caplog):
    from starnet_trt import Recognizer

    with caplog.at_level("WARNING"), Recognizer(quantized.path, providers=["CPUExecutionProvider"]) as rec:
        assert rec.providers == ["CPUExecutionProvider"]
    assert "is an INT8 Q/DQ model" in caplog.text and "backend='openvino'" in caplog.text


def test_saturating_x86_is_avx2_without_vnni():
    from starnet_trt.backends.int8_cpu import saturating_x86

    assert saturating_x86(frozenset({"sse4_2", "avx2", "fma"}), "x86_64")
    assert not saturating_x86(frozenset({"avx2", "avx512f", "avx512_vnni"}), "x86_64")
    assert not saturating_x86(frozenset({"avx2", "avx_vnni"}), "AMD64")
    assert not saturating_x86(frozenset({"avx2"}), "aarch64")
    assert not saturating_x86(frozenset(), "x86_64")  # no AVX2: ONNX Runtime's SSE path widens to 32 bits


def test_full_range_files_warn_on_cpus_that_saturate(quantized, mv3, calib_dir, tmp_path, monkeypatch, caplog):
    """A full-range file run on an AVX2-only CPU warns (the texts would come out wrong); a 7-bit file does not;
    files without starnet-trt's metadata are judged by their weights."""
    from starnet_trt.backends import int8_cpu

    full = quantize_model(
        mv3, calib_dir, tmp_path / "full.onnx", calib_count=8, policy=PrecisionPolicy(full_range_weights=True)
    ).path
    for proto, name in ((onnx.load(str(full)), "foreign-full.onnx"), (quantized.proto, "foreign-7bit.onnx")):
        del proto.metadata_props[:]
        onnx.save(proto, str(tmp_path / name))
    assert int8_cpu.full_range_weights(tmp_path / "foreign-full.onnx", {})
    assert not int8_cpu.full_range_weights(tmp_path / "foreign-7bit.onnx", {})
    assert not int8_cpu.full_range_weights(mv3, {})

    def warned(path, saturating: bool) -> bool:
        monkeypatch.setattr(int8_cpu, "saturating_x86", lambda: saturating)
        caplog.clear()
        with caplog.at_level(logging.WARNING), Recognizer(str(path), providers=["CPUExecutionProvider"]):
            pass
        return any("full-range int8 weights" in r.getMessage() for r in caplog.records)

    assert warned(full, True)
    assert not warned(full, False)
    assert not warned(quantized.path, True)
    assert not warned(mv3, True)
