"""The TensorRT backend's checks, run on the CPU: everything the C++ predictor verifies before its first CUDA or
TensorRT call (sidecar, engine bytes and sha256, flavour, TensorRT version, compute capability, plugins, inputs)
and the errors for what is missing (the runtime module, TensorRT, a GPU). The GPU half is
tools/predictor_selftest.py (and the ``gpu``-marked tests at the end, which skip here)."""

from __future__ import annotations

import copy
import ctypes.util
import hashlib
import importlib.util
import json
import os
import sys

import numpy as np
import pytest

from starnet_trt import Recognizer
from starnet_trt.backends import tensorrt_backend
from starnet_trt.metadata import DEFAULT_CHARSET

trt = pytest.importorskip(
    "starnet_trt._trt", reason="starnet_trt._trt is built only with nvcc and TensorRT headers (TensorRT_ROOT)"
)

PROFILE = (1, 2, 4)


def _sidecar(engine: bytes, **overrides) -> dict:
    """A sidecar as starnet_trt.builder writes it (the fields the runtime reads), for ``engine``."""
    data = {
        "format": "starnet-trt-engine",
        "format_version": 1,
        "engine": "x.engine",
        "engine_sha256": hashlib.sha256(engine).hexdigest(),
        "engine_bytes": len(engine),
        "precision": "fp16",
        "charset": DEFAULT_CHARSET,
        "arch": "starnet_mv3",
        "preprocess": {
            "height": 32,
            "width": 100,
            "channels": 3,
            "scale": 1 / 255,
            "mean": 0.5,
            "std": 0.5,
            "resize": "keep_ratio_pad_right",
        },
        "blank_index": 0,
        "output": "probs",
        "metadata": {},
        "input": {"name": "x", "dtype": "float32", "shape": [-1, 3, 32, 100]},
        "outputs": [
            {"name": "indices", "dtype": "int32", "shape": [-1, 25]},
            {"name": "lengths", "dtype": "int32", "shape": [-1]},
            {"name": "confidence", "dtype": "float32", "shape": [-1]},
        ],
        "profile": {"min": [PROFILE[0], 3, 32, 100], "opt": [PROFILE[1], 3, 32, 100], "max": [PROFILE[2], 3, 32, 100]},
        "tensorrt": {"flavour": "tensorrt", "version": "10.16.0"},
        "device": {"build_gpu": {"name": "NVIDIA H100", "compute_capability": "9.0"}, "compute_capabilities": ["9.0"]},
        "plugins": [
            {"name": "StarNetTPSGridSample", "version": "1", "namespace": "", "library": "libstarnet_plugins.so"},
            {"name": "StarNetCTCGreedyDecode", "version": "1", "namespace": "", "library": "libstarnet_plugins.so"},
        ],
    }
    data.update(overrides)
    return data


def _write(tmp_path, engine: bytes = b"", sidecar: dict | str | None = None, name: str = "x"):
    engine = engine or np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path = tmp_path / f"{name}.engine"
    path.write_bytes(engine)
    side = _sidecar(engine) if sidecar is None else sidecar
    (tmp_path / f"{name}.json").write_text(side if isinstance(side, str) else json.dumps(side), encoding="utf-8")
    return path


@pytest.fixture
def engine(tmp_path):
    return _write(tmp_path)


@pytest.fixture
def info(engine):
    return trt.inspect_engine(str(engine))


# -- the engine file against its sidecar -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 55, 56, 63, 64, 119, 120, 1_000_003])
def test_sha256_of_the_engine_bytes_matches_hashlib(tmp_path, size):
    # Sizes around SHA-256's padding boundaries (55/56 bytes mod 64) and a large one: the runtime's own digest
    # must agree with hashlib's, which wrote the sidecar.
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = _write(tmp_path, data)
    assert trt.inspect_engine(str(path)).as_dict()["engine_sha256"] == hashlib.sha256(data).hexdigest()


def test_inspect_reads_the_sidecar(info, engine):
    d = info.as_dict()
    assert d["engine"] == str(engine)
    assert d["profile"] == PROFILE and info.max_batch == 4
    assert d["input_shape"] == (3, 32, 100) and d["input_name"] == "x"
    assert d["steps"] == 25 and d["classes"] == len(DEFAULT_CHARSET) + 1
    assert d["decode_plugin"] is True
    assert d["compute_capabilities"] == ["9.0"]
    assert [p["name"] for p in d["plugins"]] == ["StarNetTPSGridSample", "StarNetCTCGreedyDecode"]


def test_modified_engine_is_refused_by_sha256(tmp_path):
    data = bytearray(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    side = _sidecar(bytes(data))
    data[100] ^= 0xFF
    path = _write(tmp_path, bytes(data), side)
    with pytest.raises(ValueError, match=r"does not match its sidecar .*sha256"):
        trt.inspect_engine(str(path))


def test_truncated_engine_is_refused(tmp_path):
    data = np.random.default_rng(2).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path = _write(tmp_path, data[:1000], _sidecar(data))
    with pytest.raises(ValueError, match=r"has 1000 bytes but its sidecar records 4096 \(truncated"):
        trt.inspect_engine(str(path))


@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        ("{not json", "invalid JSON at byte 1"),
        ("[1, 2]", "not a JSON object"),
        ({"format": "something-else"}, "'format' is not 'starnet-trt-engine'"),
        ({"format": "starnet-trt-engine"}, "'engine_sha256' missing"),
    ],
)
def test_unusable_sidecars(tmp_path, sidecar, message):
    path = _write(tmp_path, sidecar=sidecar)
    with pytest.raises(ValueError, match=message):
        trt.inspect_engine(str(path))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"profile": {"min": [4, 3, 32, 100], "opt": [2, 3, 32, 100], "max": [8, 3, 32, 100]}}, "min <= opt <= max"),
        ({"profile": {"min": [1, 3, 32], "opt": [2, 3, 32, 100], "max": [8, 3, 32, 100]}}, "profile.min is not"),
        ({"blank_index": 99}, "blank_index is outside"),
        ({"charset": "ab\udcff"}, None),  # lone surrogate: json.dumps escapes it; the runtime sees "\udcff"
    ],
)
def test_inconsistent_sidecars(tmp_path, change, message):
    data = np.random.default_rng(3).integers(0, 256, 512, dtype=np.uint8).tobytes()
    path = _write(tmp_path, data, _sidecar(data, **change))
    if message is None:
        trt.inspect_engine(str(path))  # decoded to U+DCFF's UTF-8 bytes; accepted like any code point
        return
    with pytest.raises(ValueError, match=message):
        trt.inspect_engine(str(path))


@pytest.mark.parametrize(("resize", "accepted"), [("stretch", True), ("keep_ratio_pad_right", True), ("fancy", False)])
def test_resize_modes(tmp_path, resize, accepted):
    data = b"\x01" * 64
    side = _sidecar(data)
    side["preprocess"]["resize"] = resize
    path = _write(tmp_path, data, side)
    if accepted:
        trt.inspect_engine(str(path))
        return
    with pytest.raises(ValueError, match="resize 'fancy' is not supported"):
        trt.inspect_engine(str(path))


def test_tensorrt_rtx_engine_is_refused_with_the_fix(tmp_path):
    data = b"\x02" * 64
    path = _write(tmp_path, data, _sidecar(data, tensorrt={"flavour": "tensorrt_rtx", "version": "1.7.1"}))
    with pytest.raises(ValueError, match=r"built with tensorrt_rtx 1\.7\.1.*--trt tensorrt"):
        trt.inspect_engine(str(path))


@pytest.mark.skipif(importlib.util.find_spec("tensorrt_rtx") is None, reason="needs tensorrt_rtx to build an engine")
def test_sidecar_written_by_the_builder_is_read_by_the_runtime(tmp_path):
    # A real engine and sidecar from starnet_trt.builder (TensorRT-RTX builds on the CPU): the runtime reads the
    # builder's sidecar as the builder meant it, and refuses the RTX flavour it cannot load.
    from starnet_trt.builder import build_engine
    from starnet_trt.recognizer import DEFAULT_MODEL_PATH

    built = build_engine(DEFAULT_MODEL_PATH, tmp_path / "mv3.engine", batch="1:2:4", trt="tensorrt_rtx")
    with pytest.raises(ValueError, match=r"built with tensorrt_rtx .*cannot load"):
        trt.inspect_engine(str(built.engine_path))
    with pytest.raises(ValueError, match="cannot load"):
        Recognizer(built.engine_path)
    side = json.loads(built.sidecar_path.read_text())
    side["tensorrt"] = {"flavour": "tensorrt", "version": "10.16.0"}  # as NVIDIA TensorRT would have written it
    built.sidecar_path.write_text(json.dumps(side))
    d = trt.inspect_engine(str(built.engine_path)).as_dict()
    assert d["profile"] == (1, 2, 4) and d["input_shape"] == (3, 32, 100) and d["input_name"] == "x"
    assert d["steps"] == 25 and d["classes"] == 37 and d["decode_plugin"] is False
    assert d["charset"] == DEFAULT_CHARSET and d["engine_bytes"] == built.engine_path.stat().st_size
    assert d["compute_capabilities"] == []  # RTX's "portable" target is not a compute capability to compare
    data = built.engine_path.read_bytes()
    built.engine_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        trt.inspect_engine(str(built.engine_path))


def test_missing_files(tmp_path, engine):
    with pytest.raises(RuntimeError, match="engine not found"):
        trt.inspect_engine(str(tmp_path / "nope.engine"))
    (tmp_path / "x.json").unlink()
    with pytest.raises(RuntimeError, match="sidecar"):
        trt.inspect_engine(str(engine))
    with pytest.raises(FileNotFoundError, match="sidecar not found"):
        Recognizer(engine)


# -- the environment: TensorRT version, GPU, plugins -------------------------------------------------------------

OUR_PLUGINS = [("StarNetTPSGridSample", "1", ""), ("StarNetCTCGreedyDecode", "1", "")]


def test_matching_environment_passes(info):
    trt.check_engine_environment(info, "10.16.1", "9.0", OUR_PLUGINS)  # patch releases share the format
    trt.check_engine_environment(info, "10.16.0", "", OUR_PLUGINS)  # unknown GPU: not compared


@pytest.mark.parametrize(
    ("version", "cc", "plugins", "message"),
    [
        ("10.3.0", "9.0", OUR_PLUGINS, r"built with TensorRT 10\.16\.0 but TensorRT 10\.3\.0 is loaded"),
        ("11.1.0", "9.0", OUR_PLUGINS, r"built with TensorRT 10\.16\.0 but TensorRT 11\.1\.0"),
        ("10.16.0", "8.6", OUR_PLUGINS, r"built for compute capability 9\.0 but this GPU is 8\.6"),
        ("10.16.0", "9.0", OUR_PLUGINS[:1], r"uses plugin StarNetCTCGreedyDecode version 1, which the loaded"),
        (
            "10.16.0",
            "9.0",
            [OUR_PLUGINS[0], ("StarNetCTCGreedyDecode", "2", "")],
            r"plugin StarNetCTCGreedyDecode version 1 but the loaded plugin library has version 2",
        ),
    ],
)
def test_environment_mismatch_says_what_was_built_for_what(info, version, cc, plugins, message):
    with pytest.raises(ValueError, match=message):
        trt.check_engine_environment(info, version, cc, plugins)


def test_engine_without_plugins_needs_none(tmp_path):
    data = b"\x03" * 64
    info = trt.inspect_engine(str(_write(tmp_path, data, _sidecar(data, plugins=[]))))
    trt.check_engine_environment(info, "10.16.0", "9.0", [])


def test_missing_tensorrt_says_how_to_install(tmp_path):
    with pytest.raises(RuntimeError, match=r"TensorRT is not installed or not loadable.*STARNET_TRT_LIBNVINFER"):
        trt.tensorrt_version(str(tmp_path / "libnvinfer.so.10"))


@pytest.mark.skipif(ctypes.util.find_library("z") is None, reason="needs some non-TensorRT shared library")
def test_a_library_that_is_not_tensorrt_is_named(monkeypatch):
    name = ctypes.util.find_library("z")
    with pytest.raises(RuntimeError, match="is not a TensorRT library"):
        trt.tensorrt_version(name)
    monkeypatch.setenv("STARNET_TRT_LIBNVINFER", name)
    with pytest.raises(RuntimeError, match="is not a TensorRT library"):
        trt.tensorrt_version()


@pytest.mark.skipif(trt.cuda_device_count() > 0, reason="checks the error on machines without a GPU")
def test_no_gpu_is_a_clear_error_after_the_file_checks(engine, tmp_path):
    with pytest.raises(RuntimeError, match=r"no CUDA device is visible.*backend='onnxruntime'"):
        trt.Predictor(str(engine))
    with pytest.raises(RuntimeError, match="no CUDA device is visible"):
        Recognizer(engine)
    with pytest.raises(RuntimeError, match="no CUDA device is visible"):
        Recognizer(engine, backend="tensorrt", batch_size=8)
    # File checks come first: a modified engine is reported as such even without a GPU.
    bad = _write(tmp_path, b"\x05" * 64, _sidecar(b"\x06" * 64), name="bad")
    with pytest.raises(ValueError, match="sha256"):
        Recognizer(bad)


def test_non_utf8_names_and_sidecar_bytes(tmp_path):
    """A file name that is not UTF-8 gets as far as the GPU check; raw bytes quoted from a sidecar come back
    escaped in a ValueError, not as a UnicodeDecodeError (found by tests/fuzz: test_fuzz_engine_sidecars)."""
    odd = tmp_path / os.fsdecode(b"w\xff")
    engine = _write(tmp_path, name=odd.name)
    info = trt.inspect_engine(os.fsencode(engine))
    assert info.as_dict()["engine"] == str(engine) and "\\udcff" in repr(info)
    with pytest.raises(RuntimeError, match="no CUDA device is visible"):
        Recognizer(engine)
    (tmp_path / f"{odd.name}.json").write_bytes(json.dumps(_sidecar(engine.read_bytes())).encode()[:-40] + b"\xfb\xff")
    with pytest.raises(ValueError, match=r"\\x"):
        trt.inspect_engine(os.fsencode(engine))


def test_build_without_the_runtime_says_how_to_get_it(engine, monkeypatch):
    monkeypatch.setitem(sys.modules, "starnet_trt._trt", None)  # what a build without TensorRT headers has
    with pytest.raises(RuntimeError, match=r"TensorRT backend is not in this build.*TensorRT_ROOT"):
        Recognizer(engine)
    with pytest.raises(RuntimeError, match="TensorRT_ROOT"):
        tensorrt_backend.load_predictor(engine)


def test_libnvinfer_of_the_pip_wheels_is_found(tmp_path, monkeypatch):
    # The tensorrt wheels keep libnvinfer in site-packages/tensorrt_libs, off the loader's path.
    package = tmp_path / "tensorrt_libs"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "libnvinfer_builder_resource.so.10.16.0").write_bytes(b"")
    (package / "libnvinfer.so.10").write_bytes(b"")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tensorrt_libs", raising=False)
    assert tensorrt_backend.pip_libnvinfer() == str(package / "libnvinfer.so.10")
    monkeypatch.setitem(sys.modules, "tensorrt_libs", None)
    assert tensorrt_backend.pip_libnvinfer() is None


def test_load_predictor_argument_checks(engine):
    with pytest.raises(ValueError, match="device must be"):
        tensorrt_backend.load_predictor(engine, device=-1)
    with pytest.raises(FileNotFoundError, match="engine not found"):
        tensorrt_backend.load_predictor(engine.with_name("other.engine"))


# -- inputs, converted and validated exactly as Predictor.recognize does -----------------------------------------


class FakeCudaArray:
    """An object exposing __cuda_array_interface__ (v3) like CuPy/numba/torch; the pointer is never read."""

    def __init__(self, shape, typestr, strides=None, stream=None):
        self.__cuda_array_interface__ = {
            "shape": shape,
            "typestr": typestr,
            "data": (0x7F0000000000, False),
            "strides": strides,
            "version": 3,
            "stream": stream,
        }


class DlpackOnly:
    """Hides the buffer protocol so the DLPack path is taken (CPU tensors from other frameworks)."""

    def __init__(self, array):
        self._array = array

    def __dlpack__(self, stream=None):
        return self._array.__dlpack__()

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


def _images(n=3):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (int(rng.integers(8, 64)), int(rng.integers(8, 300)), 3), np.uint8) for _ in range(n)]


def test_valid_inputs(info):
    assert trt.check_input(info, _images()) == {"kind": "images", "count": 3}
    gray = np.zeros((20, 50), np.uint8)
    assert trt.check_input(info, [gray, np.zeros((20, 50, 4), np.uint8)])["count"] == 2
    assert trt.check_input(info, gray)["shape"] == (1, 20, 50, 1)  # one HxW image
    flipped = np.zeros((30, 80, 3), np.uint8)[::-1, ::2]  # negative and non-unit strides are read as they are
    assert trt.check_input(info, [flipped])["count"] == 1
    batch = np.zeros((10, 32, 100, 3), np.uint8)  # 10 > profile max 4: split by the predictor
    assert trt.check_input(info, batch) == {"kind": "uint8", "memory": "host", "shape": (10, 32, 100, 3)}
    normalized = np.zeros((9, 3, 32, 100), np.float32)
    assert trt.check_input(info, normalized)["kind"] == "float32"
    assert trt.check_input(info, FakeCudaArray((5, 3, 32, 100), "<f4"))["memory"] == "device"
    assert trt.check_input(info, FakeCudaArray((2, 40, 90, 3), "|u1", stream=1))["shape"] == (2, 40, 90, 3)
    assert trt.check_input(info, DlpackOnly(normalized))["shape"] == (9, 3, 32, 100)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: np.zeros((2, 3, 32, 101), np.float32), ValueError, r"expected float32 \[N, 3, 32, 100\]"),
        (lambda: np.zeros((2, 1, 32, 100), np.float32), ValueError, r"got shape \[2, 1, 32, 100\]"),
        (lambda: np.zeros((2, 3, 32, 100), np.float64), ValueError, "element type 'd'"),
        (lambda: np.zeros((4, 3, 32, 200), np.float32)[:, :, :, ::2], ValueError, "C-contiguous"),
        (lambda: np.zeros((3, 32, 100), np.float32), ValueError, r"normalized batch \[N, C, H, W\]"),
        (lambda: np.zeros((2, 32, 100, 2), np.uint8), ValueError, "C 1, 3 or 4"),
        (lambda: np.zeros((0, 32, 100, 3), np.uint8), ValueError, "at least one image"),
        (lambda: np.zeros((2, 0, 100, 3), np.uint8), ValueError, "non-empty"),
        (lambda: np.zeros((1, 2, 32, 100, 3), np.uint8), ValueError, "got 5 dimensions"),
        (lambda: np.zeros(5, np.uint8), ValueError, "got 1 dimensions"),
        (lambda: [np.zeros((20, 50, 3), np.uint8), "a.png"], TypeError, "image 1: expected a uint8 array, got str"),
        (lambda: [np.zeros((20, 50, 3), np.float32)], ValueError, "image 0: expected a uint8"),
        (lambda: [np.zeros((20, 50, 5), np.uint8)], ValueError, "image 0: expected 1, 3 or 4 channels"),
        (lambda: [np.zeros((0, 50, 3), np.uint8)], ValueError, "image 0: expected a non-empty image"),
        (lambda: {"x": 1}, TypeError, "expected a list of uint8 arrays, a NumPy array, or a CUDA array"),
        (lambda: FakeCudaArray((2, 3, 32, 100), "<f2"), ValueError, "element type '<f2'"),
        (lambda: FakeCudaArray((2, 3, 32, 64), "<f4"), ValueError, r"expected float32 \[N, 3, 32, 100\]"),
        (lambda: FakeCudaArray((2, 3, 32, 100), "<f4", strides=(4, 8, 16, 32)), ValueError, "C-contiguous"),
        (lambda: DlpackOnly(np.zeros((2, 3, 32, 100), np.float16)), ValueError, "DLPack dtype code 2 with 16 bits"),
        (lambda: DlpackOnly(np.zeros((2, 3, 32, 100), np.int32)), ValueError, "DLPack dtype code 0"),
    ],
)
def test_invalid_inputs_name_expected_and_got(info, make, error, message):
    with pytest.raises(error, match=message):
        trt.check_input(info, make())


# -- on a GPU with TensorRT (skipped elsewhere; tools/predictor_selftest.py covers the rest) ---------------------


@pytest.mark.gpu
@pytest.mark.tensorrt
@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None, reason="needs the tensorrt package to build")
def test_predictor_on_gpu_matches_onnxruntime_and_cannot_be_copied(tmp_path):
    from starnet_trt.builder import build_engine
    from starnet_trt.recognizer import DEFAULT_MODEL_PATH

    built = build_engine(DEFAULT_MODEL_PATH, tmp_path / "mv3.engine", batch="1:8:32", trt="tensorrt")
    images = _images(40)
    with Recognizer() as ort_rec, Recognizer(built.engine_path) as trt_rec:
        assert trt_rec.backend_name == "tensorrt"
        expected = [r.text for r in ort_rec.recognize(images)]
        assert [r.text for r in trt_rec.recognize(images)] == expected
        predictor = trt_rec._open_backend.predictor
        with pytest.raises(TypeError, match=r"clone\(\)"):
            copy.copy(predictor)
        with predictor.clone() as twin:
            handle = twin.recognize_async(images)
            indices, lengths, confidences = handle.result()
            assert handle.done() and indices.shape[0] == 40 and lengths.shape == confidences.shape == (40,)
