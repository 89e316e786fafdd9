"""starnet-trt bench: report content, output formats and argument errors (timings themselves are not asserted)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from starnet_trt import bench
from starnet_trt.cli import main

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
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
