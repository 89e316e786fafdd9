"""DTRB metrics and the evaluate() loop."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_fixtures import make_model, text_image

from starnet_trt.evaluation import EvalResult, edit_distance, evaluate, word_scores
from starnet_trt.recognizer import Recognizer
from starnet_trt.results import Result


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [("", "", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3), ("flaw", "lawn", 2), ("abc", "abc", 0)],
)
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d
    assert edit_distance(b, a) == d


@pytest.mark.parametrize(
    ("label", "pred", "correct", "ned"),
    [
        ("Don't", "DONT", True, 1.0),  # case and punctuation are ignored
        ("hello", "hallo", False, 0.8),
        ("abc", "", False, 0.0),
        ("", "", True, 1.0),  # both empty: a perfect match (DTRB's code would add 0)
        ("!!", "", True, 1.0),  # label empty after filtering
        ("ab", "abcd", False, 0.5),  # normalized by the longer string
        ("Über", "ber", True, 1.0),  # non-ASCII letters are outside 0-9a-z
    ],
)
def test_word_scores(label, pred, correct, ned):
    got_correct, got_ned = word_scores(label, pred)
    assert got_correct is correct
    assert got_ned == pytest.approx(ned)


class FakeRecognizer:
    """Returns preset texts keyed by the image's first pixel; rejects float images like the real one skips."""

    def __init__(self, texts):
        self.texts = texts
        self.calls = []

    def recognize(self, images, on_error=None):
        self.calls.append((len(images), on_error))
        return [None if img.dtype != np.uint8 else Result(self.texts[int(img[0, 0, 0])], 0.9) for img in images]


def img(i, dtype=np.uint8):
    return np.full((4, 4, 3), i, dtype)


def test_evaluate_counts_failures_as_wrong(capsys):
    texts = {0: "hello", 1: "W0rld", 2: "nope", 3: "x"}
    dataset = [(img(0), "Hello!"), (img(1), "w0rld"), (None, "lost"), (img(2), "yes"), (img(3, np.float32), "bad")]
    result = evaluate(FakeRecognizer(texts), dataset, batch_size=2, progress=False)
    assert isinstance(result, EvalResult)
    assert result.count == 5
    assert result.failures == 2
    assert result.accuracy == pytest.approx(2 / 5)
    assert result.ned == pytest.approx((1 + 1 + 0 + 0 + 0) / 5)
    assert result.images_per_s > 0
    assert capsys.readouterr().err == ""
    assert set(result.as_dict()) == {"accuracy", "ned", "count", "images_per_s", "failures"}


def test_evaluate_limit_batches_and_progress(capsys):
    fake = FakeRecognizer({0: "a"})
    dataset = [(img(0), "a")] * 10
    result = evaluate(fake, dataset, batch_size=4, progress=True, limit=7)
    assert result.count == 7 and result.accuracy == 1.0
    assert [n for n, _ in fake.calls] == [4, 3]
    assert all(mode == "skip" for _, mode in fake.calls)
    err = capsys.readouterr().err
    assert "7/7" in err and err.endswith("\n")


def test_evaluate_empty_dataset():
    result = evaluate(FakeRecognizer({}), [], progress=False)
    assert (result.count, result.accuracy, result.ned) == (0, 0.0, 0.0)


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"limit": -1}, {"batch_size": 2.5}])
def test_evaluate_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        evaluate(FakeRecognizer({}), [], **kwargs)


def test_evaluate_with_a_real_recognizer(tmp_path):
    words = ["hello", "abc", "zz9", "q", "mm"]
    dataset = [(text_image(w), w.upper()) for w in words] + [(text_image("abc"), "abd")]
    with Recognizer(make_model(tmp_path / "tiny.onnx"), batch_size=4) as rec:
        result = evaluate(rec, dataset, batch_size=3, progress=False)
    assert result.count == 6
    assert result.accuracy == pytest.approx(5 / 6)
    assert result.ned == pytest.approx((5 + 2 / 3) / 6)
    assert result.failures == 0
