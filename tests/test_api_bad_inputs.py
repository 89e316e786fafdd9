"""The Python API of the builder and the quantizer under bad arguments (issue #9's matrix; CLI cells are in
test_cli_bad_inputs.py): each wrong type is a TypeError, each wrong value a ValueError, each directory given as a
file an IsADirectoryError, all naming the argument, all raised before any file is written or TensorRT is loaded.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys

import cv2
import pytest
from onnx_fixtures import make_model, text_image

from starnet_trt import builder
from starnet_trt.builder import build_engine, parse_batch
from starnet_trt.quantize import PrecisionPolicy, quantize_model

needs_rtx = pytest.mark.skipif(
    importlib.util.find_spec("tensorrt_rtx") is None, reason="needs tensorrt_rtx (pip install 'starnet-trt[rtx]')"
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("api") / "tiny.onnx")


@pytest.fixture(scope="module")
def calib(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calib")
    for i, word in enumerate(["abc", "hello", "zz9"]):
        cv2.imwrite(str(folder / f"{i}.png"), text_image(word))
    return folder


@pytest.fixture(autouse=True)
def no_tensorrt_needed(monkeypatch):
    """Argument errors must come before TensorRT is even imported."""

    def refuse(flavour="auto"):
        raise AssertionError("TensorRT was loaded before the arguments were checked")

    monkeypatch.setattr(builder, "load_tensorrt", refuse)


BUILD_CASES = [
    ({"batch": object()}, TypeError, "batch must be"),
    ({"batch": (1, 2.5, 4)}, TypeError, "batch must be"),
    ({"batch": "1:x:4"}, ValueError, "MIN:OPT:MAX"),
    ({"batch": (4, 2, 1)}, ValueError, "1 <= MIN <= OPT <= MAX"),
    ({"fp16": "yes"}, TypeError, "fp16 must be True or False"),
    ({"int8": 1}, TypeError, "int8 must be True or False"),
    ({"fast": True}, TypeError, r"unknown option\(s\) \['fast'\]"),
    ({"workspace_mb": "big"}, TypeError, "workspace_mb"),
    ({"workspace_mb": 0}, ValueError, "workspace_mb"),
    ({"opt_level": 2.5}, TypeError, "opt_level"),
    ({"opt_level": 9}, ValueError, "opt_level"),
    ({"charset": 5}, TypeError, "charset must be a string"),
    ({"trt": "tensorflow"}, ValueError, "trt must be one of"),
    ({"plugins": "all"}, ValueError, "plugins must be one of"),
    ({"tps_rows": "double"}, ValueError, "tps_rows must be one of"),
    ({"calib_method": "best"}, ValueError, "calib_method must be one of"),
    ({"calib_count": 0}, ValueError, "calib_count"),
    ({"calib_percentile": 0}, ValueError, r"calib_percentile must be in \(0, 100\]"),
    ({"calib_percentile": "99.9"}, TypeError, "calib_percentile must be a number"),
    ({"calib": 3}, TypeError, "calib must be a path"),
    ({"policy": "float"}, TypeError, "policy must be a PrecisionPolicy"),
    ({"compute_capabilities": [8.9]}, TypeError, "compute_capabilities must be strings"),
    ({"progress": 5}, TypeError, "progress must be callable"),
    ({"dla_core": -1}, ValueError, "dla_core"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BUILD_CASES, ids=[str(c[0]) for c in BUILD_CASES])
def test_build_engine_argument_errors(tiny, tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        build_engine(tiny, tmp_path / "x.engine", **kwargs)
    assert not list(tmp_path.iterdir()), "nothing may be written for a refused call"


@pytest.mark.parametrize("which", ["engine_path", "timing_cache", "save_onnx"])
def test_build_engine_directories_given_as_files(tiny, tmp_path, which):
    kwargs = {"engine_path": tmp_path / "x.engine", which: tmp_path}
    with pytest.raises(IsADirectoryError, match=f"{which} must be a file path"):
        build_engine(tiny, **kwargs)


@pytest.mark.parametrize(
    ("model", "error", "message"),
    [(None, TypeError, "expected an ONNX model path"), (42, TypeError, "expected an ONNX model path")],
)
def test_build_engine_model_argument(model, error, message):
    with pytest.raises(error, match=message):
        build_engine(model)


def test_build_engine_missing_truncated_and_directory_models(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="ONNX model not found"):
        build_engine(tmp_path / "missing.onnx")
    with pytest.raises(IsADirectoryError, match="got a directory"):
        build_engine(tmp_path)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(tiny.read_bytes()[:300])
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        build_engine(truncated)


def test_parse_batch_types():
    assert parse_batch(8) == (8, 8, 8)
    assert parse_batch([1, 8, 32]) == (1, 8, 32)
    with pytest.raises(TypeError):
        parse_batch(True)


@needs_rtx
@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse non-UTF-8 names")
def test_build_engine_non_utf8_names_and_a_corrupt_timing_cache(tiny, tmp_path, monkeypatch):
    monkeypatch.undo()  # this one builds for real, with TensorRT-RTX
    odd = os.fsencode(str(tmp_path)) + b"/mod\xffel.onnx"
    shutil.copyfile(tiny, odd)
    cache = tmp_path / "cache.bin"
    cache.write_bytes(b"not a timing cache" * 8)
    result = build_engine(odd, tmp_path / "out.engine", timing_cache=cache, compute_capabilities="8.9")
    assert result.engine_path.is_file() and result.sidecar["device"]["compute_capabilities"] == ["8.9"]
    assert "\\udcff" in result.sidecar["onnx"]["file"]  # the undecodable byte, kept visible in valid JSON


QUANT_CASES = [
    ({"calib": 5}, TypeError, "calib must be a path"),
    ({"calib_count": "3"}, TypeError, "calib_count must be an integer"),
    ({"calib_count": 0}, ValueError, "calib_count"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"method": "best"}, ValueError, "calibration method must be one of"),
    ({"percentile": 101}, ValueError, r"percentile must be in \(0, 100\]"),
    ({"percentile": float("nan")}, ValueError, r"percentile must be in \(0, 100\]"),
    ({"percentile": True}, TypeError, "percentile must be a number"),
    ({"policy": "float"}, TypeError, "policy must be a PrecisionPolicy"),
    ({"progress": 3}, TypeError, "progress must be callable"),
    ({"charset": ["a"]}, TypeError, "charset must be a string"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), QUANT_CASES, ids=[str(c[0]) for c in QUANT_CASES])
def test_quantize_model_argument_errors(tiny, calib, tmp_path, kwargs, error, message):
    args = {"calib": calib, "out": tmp_path / "q.onnx", **kwargs}
    with pytest.raises(error, match=message):
        quantize_model(tiny, **args)
    assert not list(tmp_path.iterdir())


def test_quantize_model_files(tiny, calib, tmp_path):
    with pytest.raises(IsADirectoryError, match="out must be a file path"):
        quantize_model(tiny, calib, tmp_path)
    with pytest.raises(FileNotFoundError, match="calibration set not found"):
        quantize_model(tiny, tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no readable images"):
        quantize_model(tiny, empty)
    with pytest.raises(TypeError, match="expected an ONNX model path"):
        quantize_model(123, calib)
    truncated = tmp_path / "t.onnx"
    truncated.write_bytes(tiny.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        quantize_model(truncated, calib)
    assert PrecisionPolicy()  # the type the policy argument wants exists and builds with defaults
