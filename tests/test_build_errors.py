"""The builder's error cases: clear messages, exit status 2 from the CLI, never a traceback."""

from __future__ import annotations

import importlib
import importlib.util

import onnx
import pytest
from onnx_fixtures import make_model

from starnet_trt import builder
from starnet_trt.builder import build_engine, load_tensorrt, parse_batch
from starnet_trt.cli import main
from starnet_trt.graph.check import check_onnx
from starnet_trt.metadata import DEFAULT_CHARSET

needs_rtx = pytest.mark.skipif(
    importlib.util.find_spec("tensorrt_rtx") is None, reason="needs tensorrt_rtx (pip install 'starnet-trt[rtx]')"
)


@pytest.fixture
def tiny(tmp_path):
    return make_model(tmp_path / "tiny.onnx")


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_missing_onnx(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="ONNX model not found"):
        build_engine(tmp_path / "nope.onnx")
    code, _, err = cli(capsys, "build", "--onnx", tmp_path / "nope.onnx")
    assert code == 2 and "ONNX model not found" in err


def test_invalid_onnx(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_text("this is not a protobuf")
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        check_onnx(bad)
    code, _, err = cli(capsys, "build", "--onnx", bad)
    assert code == 2 and "not a valid ONNX model" in err
    with pytest.raises(IsADirectoryError):
        check_onnx(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch": 4}, "fixed batch size 4"),
        ({"channels": 1}, "preprocessing metadata says"),  # gray input but metadata rewritten below as BGR
        ({"num_classes": 12}, "12 classes"),
    ],
)
def test_unexpected_shapes(tmp_path, kwargs, message):
    path = make_model(tmp_path / "m.onnx", **kwargs)
    if kwargs.get("channels") == 1:
        proto = onnx.load(str(path))
        for p in proto.metadata_props:
            if p.key == "starnet.preprocess":
                p.value = p.value.replace('"channels": 1', '"channels": 3').replace('"gray"', '"bgr"')
        onnx.save(proto, str(path))
    with pytest.raises(ValueError, match=message):
        check_onnx(path)


def test_wrong_input_name_and_old_opset(tiny, tmp_path):
    proto = onnx.load(str(tiny))
    proto.graph.input[0].name = "images"
    for node in proto.graph.node:
        node.input[:] = ["images" if i == "x" else i for i in node.input]
    onnx.save(proto, str(tmp_path / "renamed.onnx"))
    with pytest.raises(ValueError, match="named 'x'"):
        check_onnx(tmp_path / "renamed.onnx")
    proto = onnx.load(str(tiny))
    proto.opset_import[0].version = 13
    onnx.save(proto, str(tmp_path / "old.onnx"))
    with pytest.raises(ValueError, match="opset 13 is too old"):
        check_onnx(tmp_path / "old.onnx")


def test_missing_metadata_says_how_to_fix(tmp_path, capsys):
    bare = make_model(tmp_path / "bare.onnx", metadata=False)
    with pytest.raises(ValueError, match="--charset"):
        check_onnx(bare)
    code, _, err = cli(capsys, "build", "--onnx", bare)
    assert code == 2 and "lacks starnet-trt metadata" in err and "--charset" in err
    checked = check_onnx(bare, charset=DEFAULT_CHARSET)
    assert checked.metadata_supplied and checked.info.charset == DEFAULT_CHARSET
    with pytest.raises(ValueError, match="classes"):
        check_onnx(bare, charset="abc")


@needs_rtx
def test_charset_supplies_missing_metadata(tmp_path):
    bare = make_model(tmp_path / "bare.onnx", metadata=False)
    result = build_engine(bare, tmp_path / "bare.engine", trt="tensorrt_rtx", batch="1:1:2", charset=DEFAULT_CHARSET)
    assert result.sidecar["charset"] == DEFAULT_CHARSET and result.sidecar["metadata_supplied_by_builder"] is True


def test_tensorrt_not_installed(tiny, monkeypatch, capsys):
    real_import = importlib.import_module

    def no_tensorrt(name, *args, **kwargs):
        if name in ("tensorrt", "tensorrt_rtx"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", no_tensorrt)
    for flavour in ("auto", "tensorrt", "tensorrt_rtx"):
        with pytest.raises(RuntimeError, match="not installed") as info:
            load_tensorrt(flavour)
        assert "JetPack" in str(info.value) and "[tensorrt]" in str(info.value) and "[rtx]" in str(info.value)
    code, _, err = cli(capsys, "build", "--onnx", tiny)
    assert code == 2 and "TensorRT is not installed" in err and "JetPack" in err


def test_dla_needs_a_jetson(tiny, monkeypatch, capsys):
    monkeypatch.setattr(builder, "is_jetson", lambda: False)
    code, _, err = cli(capsys, "build", "--onnx", tiny, "--dla-core", 0)
    assert code == 2 and "not a Jetson device" in err
    code, _, err = cli(capsys, "build", "--onnx", tiny, "--gpu-fallback")
    assert code == 2 and "--gpu-fallback goes with --dla-core" in err


@needs_rtx
def test_dla_with_tensorrt_rtx(tiny, monkeypatch):
    monkeypatch.setattr(builder, "is_jetson", lambda: True)
    with pytest.raises(ValueError, match="TensorRT-RTX has none"):
        build_engine(tiny, trt="tensorrt_rtx", dla_core=0)


def test_int8_calibration_set_errors(tiny, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli(capsys, "build", "--onnx", tiny, "--int8", "--calib", empty)
    assert code == 2 and "no readable images" in err
    labels = tmp_path / "gt.txt"
    labels.write_text("")
    code, _, err = cli(capsys, "quantize", "--onnx", tiny, "--calib", labels, "-o", tmp_path / "q.onnx")
    assert code == 2 and "no readable images" in err
    code, _, err = cli(capsys, "quantize", "--onnx", tiny, "--calib", tmp_path / "missing", "-o", tmp_path / "q.onnx")
    assert code == 2 and "not found" in err
    assert not (tmp_path / "q.onnx").exists()


@pytest.mark.parametrize(("text", "expected"), [("1:8:32", (1, 8, 32)), ("4", (4, 4, 4)), ([2, 2, 3], (2, 2, 3))])
def test_parse_batch(text, expected):
    assert parse_batch(text) == expected


@pytest.mark.parametrize("text", ["0:1:2", "4:2:8", "1:2", "a:b:c", "1:2:3:4"])
def test_parse_batch_rejects(text, tiny, capsys):
    with pytest.raises(ValueError, match="--batch"):
        parse_batch(text)
    code, _, err = cli(capsys, "build", "--onnx", tiny, "--batch", text)
    assert code == 2 and "--batch" in err


@pytest.mark.parametrize(
    ("option", "message"),
    [(["--opt-level", "9"], "--opt-level"), (["--workspace", "0"], "--workspace")],
)
def test_bad_options(tiny, capsys, option, message):
    code, _, err = cli(capsys, "build", "--onnx", tiny, *option)
    assert code == 2 and message in err


@needs_rtx
def test_compute_capability_checks(tiny):
    with pytest.raises(ValueError, match="not one TensorRT-RTX builds for"):
        build_engine(tiny, trt="tensorrt_rtx", compute_capabilities=["5.0"])
