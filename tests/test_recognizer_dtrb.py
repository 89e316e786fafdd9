"""A converted DTRB model in the Recognizer: its metadata selects DTRB's preprocessing (gray, stretched)."""

from __future__ import annotations

from pathlib import Path

import cv2
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch", reason="the DTRB test model is exported from PyTorch")

from starnet_trt import Recognizer  # noqa: E402
from starnet_trt.export import export_model  # noqa: E402
from starnet_trt.metadata import DEFAULT_CHARSET  # noqa: E402
from starnet_trt.model import build_model  # noqa: E402
from starnet_trt.ops import resize_normalize  # noqa: E402

WORDS = Path(__file__).resolve().parents[1] / "examples" / "words"


@pytest.fixture(scope="module")
def dtrb_onnx(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("dtrb_trbc").eval()
    with torch.no_grad():
        model.head.weight.mul_(40.0)  # a peaked softmax, so the decoded texts are not all empty
    return export_model(model, tmp_path_factory.mktemp("dtrb") / "dtrb.onnx", charset=DEFAULT_CHARSET)


def test_recognizer_feeds_dtrb_models_gray_stretched_inputs(dtrb_onnx):
    paths = sorted(WORDS.iterdir())[:6]
    images = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths]
    batch, widths = resize_normalize(images, channels=1, resize="stretch", gray="pil")
    assert widths.tolist() == [100] * len(images)
    probs = ort.InferenceSession(str(dtrb_onnx), providers=["CPUExecutionProvider"]).run(None, {"x": batch})[0]
    expected = []
    for row in probs.argmax(-1):
        keep = [c for i, c in enumerate(row) if c != 0 and (i == 0 or c != row[i - 1])]
        expected.append("".join(DEFAULT_CHARSET[c - 1] for c in keep))
    assert any(expected), "the test model must read something"
    with Recognizer(dtrb_onnx) as rec:
        pre = rec.metadata.preprocess
        assert (rec.metadata.arch, pre.channels, pre.resize) == ("dtrb_trbc", 1, "stretch")
        assert tuple(rec.inputs[0].shape[1:]) == (1, 32, 100)
        assert [r.text for r in rec.recognize([str(p) for p in paths])] == expected
        assert [r.text for r in rec.recognize(images)] == expected


@pytest.mark.parametrize("split", [False, True])
def test_openvino_backend_runs_dtrb_models_like_onnxruntime(dtrb_onnx, monkeypatch, split):
    # DTRB's TPS samples with align_corners=True and border padding, on a 1-channel input: OpenVINO's GridSample
    # must agree with ONNX Runtime's there too, whole or cut after the spatial transformer (what bf16 does).
    pytest.importorskip("openvino", reason="the openvino backend needs OpenVINO (in the test extra)")
    from starnet_trt.backends import openvino_backend

    monkeypatch.setitem(openvino_backend.PRECISIONS, "fp32", ("f32", "FP32", split))
    paths = [str(p) for p in sorted(WORDS.iterdir())]
    with Recognizer(dtrb_onnx) as ref, Recognizer(dtrb_onnx, backend="openvino") as rec:
        assert rec.providers[0].endswith("(spatial transformer fp32)") == split
        expected, got = ref.recognize(paths), rec.recognize(paths)
    assert [r.text for r in got] == [r.text for r in expected]
    assert max(abs(a.confidence - b.confidence) for a, b in zip(got, expected, strict=True)) < 1e-4
