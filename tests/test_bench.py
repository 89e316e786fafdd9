"""starnet-trt bench: report content, output formats and argument errors (timings themselves are not asserted)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from starnet_trt import bench
from starnet_trt.cli import main
from starnet_trt.recognizer import DEFAULT_MODEL_PATH

TRTEXEC_SAMPLE = """
[11/27/2026-10:00:00] [I] === Performance summary ===
[11/27/2026-10:00:00] [I] Throughput: 5123.4 qps
[11/27/2026-10:00:00] [I] Latency: min = 0.21 ms, max = 0.9 ms, mean = 0.25 ms, median = 0.24 ms
[11/27/2026-10:00:00] [I] GPU Compute Time: min = 0.180 ms, max = 0.452 ms, mean = 0.1937 ms, median = 0.19 ms
"""


def test_report_has_every_figure(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--batch", "1,3", "--iterations", "2", "--warmup", "1", "--json", str(out), "--markdown"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| batch | mean ms |" in printed and "img/s" in printed
    report = json.loads(out.read_text())
    assert report["backend"] == "onnxruntime" and report["model"].endswith("starnet_mv3.onnx")
    assert [r["batch"] for r in report["results"]] == [1, 3]
    for r in report["results"]:
        assert r["calls"] == 2
        assert 0 < r["p50_ms"] <= r["max_ms"] and r["mean_ms"] <= r["max_ms"]
        assert r["images_per_s"] > 0 and r["rss_mb"] > 0
        assert set(r["stages_ms"]) == {"preprocess", "inference", "decode"}
        assert r["stages_ms"]["inference"] > 0
    env = report["environment"]
    assert env["onnxruntime"] and env["logical_cpus"] >= 1 and env["numpy"] == np.__version__
    assert report["peak_rss_mb"] >= report["results"][0]["rss_mb"] * 0.5


def test_images_from_a_folder(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"w{i}.png"), np.full((32, 90, 3), 200 + i, np.uint8))
    report = bench.run_bench(None, batches=[2], iterations=1, duration=None, warmup=0, images=str(tmp_path))
    assert report.images == f"3 images from {tmp_path}" and report.results[0].calls == 1


def test_generated_images_are_word_sized():
    images = bench.generated_images(20)
    assert all(img.dtype == np.uint8 and img.ndim == 3 and 24 <= img.shape[0] <= 64 for img in images)
    assert all(img.shape[1] >= img.shape[0] for img in images)


def test_trtexec_summary_is_parsed():
    assert bench.parse_trtexec_gpu_ms(TRTEXEC_SAMPLE) == pytest.approx(0.1937)
    assert bench.parse_trtexec_gpu_ms("no summary") is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--batch", "0"], "positive integers"),
        (["--batch", "1,x"], "'x'"),
        (["--iterations", "0"], "--iterations must be >= 1"),
        (["--duration", "-1"], "--duration must be > 0"),
        (["--warmup", "-2"], "--warmup must be >= 0"),
        (["--images", "/nonexistent/folder"], "is not a folder"),
        (["--model", "/nonexistent/model.onnx"], "nonexistent"),
        (["--vs", "@tensorflow"], "backend must be one of"),
        (["--vs", "@openvino:int4"], "precision must be one of"),
        (["--vs", " "], "--vs needs [MODEL][@BACKEND[:PRECISION]]"),
        (["--vs", "/nonexistent/other.onnx"], "nonexistent"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_side_by_side_alternates_and_reports_ratios(tmp_path, capsys):
    """--vs: every configuration on the same batches, timed in alternating rounds, with ratios to the first."""
    from onnx_fixtures import make_model

    tiny = make_model(tmp_path / "tiny.onnx")
    out = tmp_path / "sbs.json"
    argv = ["bench", "--model", str(tiny), "--batch", "1,4", "--iterations", "6", "--warmup", "1", "--json", str(out)]
    assert main([*argv, "--vs", "@onnxruntime", "--vs", f"{DEFAULT_MODEL_PATH}@onnxruntime"]) == 0
    printed = capsys.readouterr().out
    assert "side by side, images/s (ratio to the first configuration):" in printed
    first = next(line for line in printed.splitlines() if line.startswith("tiny.onnx "))
    assert first.count("( 1.00x)") == 2  # the first configuration is the reference at every batch size
    assert "starnet_mv3.onnx @onnxruntime" in printed
    runs = json.loads(out.read_text())["side_by_side"]
    assert [r["config"] for r in runs] == ["tiny.onnx", "tiny.onnx @onnxruntime", "starnet_mv3.onnx @onnxruntime"]
    assert runs[2]["model"].endswith("starnet_mv3.onnx") and runs[0]["model"].endswith("tiny.onnx")
    for run in runs:
        assert [r["batch"] for r in run["results"]] == [1, 4]
        assert all(r["calls"] == 6 for r in run["results"])  # 3 rounds of 2 calls each
    # --iterations is the number of timed calls, however it splits into rounds (4: 2 + 1 + 1; 2: two rounds of 1).
    for n in (4, 2):
        reports = bench.run_side_by_side(
            [bench.BenchConfig(str(tiny)), bench.BenchConfig(str(tiny), "onnxruntime")],
            batches=[2], iterations=n, duration=None, warmup=0,
        )  # fmt: skip
        assert [r.results[0].calls for r in reports] == [n, n]


def test_config_specs():
    parse = bench.parse_config
    assert parse("@openvino:bf16", "m.onnx") == bench.BenchConfig("m.onnx", "openvino", "bf16")
    assert parse("q.int8.onnx@openvino") == bench.BenchConfig("q.int8.onnx", "openvino", None)
    assert parse("x.engine") == bench.BenchConfig("x.engine", "auto", None)
    assert parse("dir@v2/m.onnx@onnxruntime") == bench.BenchConfig("dir@v2/m.onnx", "onnxruntime", None)
    assert bench.BenchConfig(None, "openvino", "bf16").label() == "bundled model @openvino:bf16"
