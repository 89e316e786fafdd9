"""The bundled default model: present, self-describing, and reading the sample words it shipped with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starnet_trt import Recognizer
from starnet_trt.data.labels import dtrb_filter
from starnet_trt.recognizer import DEFAULT_MODEL_PATH

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# Measured when the model was bundled (see README "The bundled model"); a retrained model updates this file.
EXPECTED = Path(__file__).resolve().parent / "fixtures" / "bundled_model_expected.json"


def test_default_model_is_bundled():
    assert DEFAULT_MODEL_PATH.is_file(), "the package must ship starnet_trt/models/starnet_mv3.onnx"
    assert DEFAULT_MODEL_PATH.stat().st_size <= 8_000_000


def test_default_model_reads_the_sample_words():
    lines = [ln.split("\t") for ln in (EXAMPLES / "words.txt").read_text().splitlines() if ln.strip()]
    with Recognizer() as rec:
        assert rec.metadata.arch == "starnet_mv3"
        assert "starnet.weights" not in rec.metadata.extra, "the bundled model must be trained, not random"
        results = rec.recognize([str(EXAMPLES / p) for p, _ in lines])
    texts = {p: r.text for (p, _), r in zip(lines, results, strict=True)}
    expected = json.loads(EXPECTED.read_text())
    # Deterministic on a given CPU; the model is tested exactly against what it produced when bundled.
    mismatched = {p: (texts[p], want) for p, want in expected["texts"].items() if texts[p] != want}
    assert len(mismatched) <= 1, mismatched  # one flip allowed for other CPUs' float rounding
    correct = sum(dtrb_filter(texts[p]) == dtrb_filter(label) for p, label in lines)
    assert correct >= expected["correct"] - 1


@pytest.mark.parametrize("bad", ["no-such-file.png", "."])
def test_default_model_errors_name_the_input(bad, tmp_path):
    with (
        Recognizer() as rec,
        pytest.raises((FileNotFoundError, ValueError, IsADirectoryError), match=r"no-such|director|\."),
    ):
        rec.recognize([str(tmp_path / bad) if bad != "." else str(tmp_path)])
