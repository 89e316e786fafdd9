"""The Recognizer agrees with PaddleOCR's own pipeline (reference.resize_norm_img -> ORT -> ctc_label_decode)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx_fixtures import make_model

from starnet_trt.metadata import DEFAULT_CHARSET
from starnet_trt.recognizer import Recognizer
from starnet_trt.reference import ctc_label_decode, resize_norm_img


@pytest.fixture(scope="module")
def soft_model(tmp_path_factory):
    # A soft model (low alpha) so confidences are far from 1 and neighbouring classes compete.
    return str(make_model(tmp_path_factory.mktemp("models") / "soft.onnx", alpha=300.0))


@st.composite
def word_images(draw):
    h = draw(st.integers(1, 80))
    w = draw(st.integers(1, 400))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Column stripes of random intensity plus noise: content the tiny model reads as varied text.
    stripes = np.repeat(rng.integers(0, 256, (w + 7) // 8), 8)[:w]
    noise = rng.integers(-20, 21, (h, w, 3))
    return np.clip(stripes[None, :, None] + noise, 0, 255).astype(np.uint8)


@settings(max_examples=25, deadline=None)
@given(images=st.lists(word_images(), min_size=1, max_size=7), batch_size=st.integers(1, 4))
def test_matches_paddleocr_reference(soft_model, images, batch_size):
    session = ort.InferenceSession(soft_model, providers=["CPUExecutionProvider"])
    batch = np.stack([resize_norm_img(img) for img in images])
    want = []
    for start in range(0, len(images), batch_size):  # same batch composition as the Recognizer
        probs = session.run(None, {"x": batch[start : start + batch_size]})[0]
        want.extend(ctc_label_decode(probs, ["blank", *DEFAULT_CHARSET]))
    with Recognizer(soft_model, batch_size=batch_size) as rec:
        got = rec.recognize(images)
    assert [r.text for r in got] == [t for t, _ in want]
    assert np.allclose([r.confidence for r in got], [c for _, c in want], atol=1e-5)
