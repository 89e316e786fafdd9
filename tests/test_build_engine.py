"""Engine builds for real with TensorRT-RTX on the CPU: both STAR-Net variants, fp32/fp16/int8, sidecar, cache."""

from __future__ import annotations

import hashlib
import importlib.util
import json

import cv2
import numpy as np
import onnx
import pytest

needs_rtx = pytest.mark.skipif(
    importlib.util.find_spec("tensorrt_rtx") is None,
    reason="needs tensorrt_rtx (pip install 'starnet-trt[rtx]'): these tests build real engines with it on the CPU",
)
torch = pytest.importorskip("torch", reason="the STAR-Net test models are exported from PyTorch")

from starnet_trt.builder import build_engine, read_sidecar  # noqa: E402
from starnet_trt.cli import main  # noqa: E402
from starnet_trt.metadata import DEFAULT_CHARSET  # noqa: E402

ARCHS = ["starnet_mv3", "starnet_r34_vd"]
SMALL = "1:2:4"  # small profiles keep the builds quick


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from starnet_trt.export import export_model
    from starnet_trt.model import build_model

    folder = tmp_path_factory.mktemp("onnx")
    paths = {}
    for arch in ARCHS:
        torch.manual_seed(0)
        paths[arch] = export_model(build_model(arch), folder / f"{arch}.onnx", charset=DEFAULT_CHARSET)
    return paths


@pytest.fixture(scope="module")
def calib_dir(tmp_path_factory):
    """Word-like images of varied sizes (dark strokes on light noise)."""
    folder = tmp_path_factory.mktemp("calib")
    rng = np.random.default_rng(0)
    for i in range(8):
        h, w = int(rng.integers(20, 64)), int(rng.integers(40, 300))
        img = rng.integers(150, 255, size=(h, w, 3), dtype=np.uint8)
        for x in range(4, w - 8, 12):
            cv2.line(img, (x, h // 4), (x + 6, 3 * h // 4), (20, 20, 20), 2)
        cv2.imwrite(str(folder / f"{i:02d}.png"), img)
    return folder


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_rtx
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
@pytest.mark.parametrize("arch", ARCHS)
def test_build_variant_and_sidecar(models, calib_dir, tmp_path, arch, precision):
    out = tmp_path / "engines" / f"{arch}.{precision}.engine"
    result = build_engine(
        models[arch],
        out,
        trt="tensorrt_rtx",
        batch=SMALL,
        fp16=precision == "fp16",
        int8=precision == "int8",
        calib=calib_dir if precision == "int8" else None,
        calib_count=8,
        progress=lambda line: None,
    )
    assert result.engine_path == out and out.stat().st_size == result.engine_bytes > 1_000_000
    assert result.sidecar_path == out.with_suffix(".json")
    sidecar = json.loads(result.sidecar_path.read_text())
    assert sidecar == result.sidecar
    assert sidecar["format"] == "starnet-trt-engine"
    assert sidecar["engine"] == out.name and sidecar["engine_sha256"] == _sha256(out)
    assert sidecar["precision"] == precision
    assert sidecar["charset"] == DEFAULT_CHARSET and sidecar["arch"] == arch
    assert sidecar["preprocess"]["height"] == 32 and sidecar["preprocess"]["width"] == 100
    assert sidecar["tensorrt"]["flavour"] == "tensorrt_rtx" and sidecar["tensorrt"]["version"]
    assert sidecar["plugins"] == []
    assert sidecar["onnx"]["sha256"] == _sha256(models[arch])
    assert sidecar["profile"] == {"min": [1, 3, 32, 100], "opt": [2, 3, 32, 100], "max": [4, 3, 32, 100]}
    assert sidecar["input"]["name"] == "x"
    assert sidecar["outputs"] == [{"name": "probs", "dtype": "float32", "shape": [-1, 25, 37]}]
    assert "STRONGLY_TYPED" in sidecar["builder"]["flags"]
    assert sidecar["build_seconds"] > 0
    if precision == "fp32":
        assert sidecar["onnx"]["built_graph_sha256"] == sidecar["onnx"]["sha256"]
        assert sidecar["quantization"] is None
    else:
        assert sidecar["onnx"]["built_graph_sha256"] != sidecar["onnx"]["sha256"]
    if precision == "int8":
        q = sidecar["quantization"]
        assert q["calibration_images"] == 8 and q["format"] == "qdq"
        assert q["policy"] == {
            "quantize_tps": False,
            "quantize_head": False,
            "quantize_depthwise": False,
            "float_stem": 7,
            "exclude": [],
            "full_range_weights": False,
        }
        assert q["weights"] == "int8 symmetric per-channel, 7-bit range"
    assert read_sidecar(out)["engine_sha256"] == sidecar["engine_sha256"]
    leftovers = [p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


@needs_rtx
def test_timing_cache_is_saved_then_loaded(models, tmp_path):
    cache = tmp_path / "timing.cache"
    lines: list[str] = []
    first = build_engine(
        models["starnet_mv3"],
        tmp_path / "a.engine",
        trt="tensorrt_rtx",
        batch=SMALL,
        timing_cache=cache,
        progress=lines.append,
    )
    assert cache.is_file() and first.timing_cache_loaded == 0
    assert first.timing_cache_saved == cache.stat().st_size > 0
    assert any(line.endswith(": new") for line in lines)
    lines.clear()
    second = build_engine(
        models["starnet_mv3"],
        tmp_path / "b.engine",
        trt="tensorrt_rtx",
        batch=SMALL,
        timing_cache=cache,
        progress=lines.append,
    )
    assert second.timing_cache_loaded == first.timing_cache_saved
    assert any(f"loaded {second.timing_cache_loaded} bytes" in line for line in lines)
    assert second.sidecar["builder"]["timing_cache"] == str(cache)


@needs_rtx
def test_cli_build_with_progress(models, tmp_path, capsys):
    out = tmp_path / "cli.engine"
    code = main(
        [
            "build",
            "--onnx",
            str(models["starnet_mv3"]),
            "-o",
            str(out),
            "--trt",
            "tensorrt_rtx",
            "--batch",
            SMALL,
            "--opt-level",
            "1",
            "--workspace",
            "256",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"wrote {out}" in captured.out
    assert "build: [" in captured.err and "Building engine" in captured.err  # progress lines from the monitor
    sidecar = read_sidecar(out)
    assert sidecar["builder"]["opt_level"] == 1 and sidecar["builder"]["workspace_mb"] == 256


@needs_rtx
def test_prequantized_model_builds_int8_and_compute_capability_targets(models, calib_dir, tmp_path, capsys):
    qdq = tmp_path / "mv3.int8.onnx"
    code = main(
        [
            "quantize",
            "--onnx",
            str(models["starnet_mv3"]),
            "--calib",
            str(calib_dir),
            "--calib-count",
            "4",
            "--calib-percentile",
            "99.9",
            "-o",
            str(qdq),
        ]
    )
    assert code == 0, capsys.readouterr().err
    record = json.loads({p.key: p.value for p in onnx.load(str(qdq)).metadata_props}["starnet.quantization"])
    assert record["method"] == "percentile" and record["percentile"] == 99.9
    result = build_engine(
        qdq, tmp_path / "q.engine", trt="tensorrt_rtx", batch=SMALL, compute_capabilities=["8.9"], progress=print
    )
    assert result.sidecar["precision"] == "int8"
    assert result.sidecar["quantization"]["calibration_images"] == 4
    saved = tmp_path / "built.onnx"
    fp16 = build_engine(qdq, tmp_path / "qh.engine", trt="tensorrt_rtx", batch=SMALL, fp16=True, save_onnx=saved)
    assert fp16.sidecar["precision"] == "int8+fp16"
    assert fp16.sidecar["onnx"]["built_graph_sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()
    assert result.sidecar["device"]["compute_capabilities"] == ["8.9"]


@needs_rtx
def test_read_sidecar_refuses_a_changed_engine(models, tmp_path):
    result = build_engine(models["starnet_mv3"], tmp_path / "m.engine", trt="tensorrt_rtx", batch="1")
    assert result.sidecar["profile"]["min"] == result.sidecar["profile"]["max"] == [1, 3, 32, 100]
    data = bytearray(result.engine_path.read_bytes())
    data[-1] ^= 0xFF
    result.engine_path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match its sidecar"):
        read_sidecar(result.engine_path)
    assert read_sidecar(result.engine_path, verify=False)["precision"] == "fp32"


@pytest.mark.tensorrt
@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_full_tensorrt_build_runs(models, calib_dir, tmp_path, precision):
    """Full TensorRT on a GPU machine (tools/gpu_selftest): the engine deserializes with the declared profile."""
    import tensorrt as trt

    result = build_engine(
        models["starnet_mv3"],
        tmp_path / f"full.{precision}.engine",
        trt="tensorrt",
        batch=SMALL,
        fp16=precision == "fp16",
        int8=precision == "int8",
        calib=calib_dir,
        calib_count=8,
    )
    sidecar = result.sidecar
    assert sidecar["tensorrt"]["flavour"] == "tensorrt"
    assert sidecar["device"]["build_gpu"]["compute_capability"] == sidecar["device"]["compute_capabilities"][0]
    engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(result.engine_path.read_bytes())
    assert engine is not None
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    assert names == ["x", "probs"]
    assert tuple(engine.get_tensor_profile_shape("x", 0)[2]) == (4, 3, 32, 100)
