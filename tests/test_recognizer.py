"""Recognizer: input kinds, batching, error handling, model validation (tiny ONNX fixtures, no torch)."""

from __future__ import annotations

import logging
import threading

import cv2
import numpy as np
import pytest
from onnx_fixtures import make_model, text_image

from starnet_trt import recognizer as recognizer_module
from starnet_trt.metadata import DEFAULT_CHARSET
from starnet_trt.recognizer import Recognizer
from starnet_trt.results import Result

WORDS = ["hello", "abc", "zz9", "0", "", "wxyz12", "q", "mm", "a1b2c3"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("models") / "tiny.onnx")


@pytest.fixture
def rec(model_path):
    with Recognizer(model_path, batch_size=4) as r:
        yield r


def texts(results):
    return [None if r is None else r.text for r in results]


def words(n):
    return [WORDS[i % len(WORDS)] for i in range(n)]


# -- inputs ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 4, 5, 9])
def test_results_follow_their_images_across_batch_boundaries(rec, n):
    expected = words(n)
    results = rec.recognize([text_image(w) for w in expected])
    assert texts(results) == expected
    assert all(isinstance(r, Result) for r in results)
    assert all(0.99 < r.confidence <= 1.0 for r, w in zip(results, expected, strict=True) if w)


@pytest.mark.parametrize("n", [0, 3, 4, 5])
def test_batch_array_matches_list(rec, n):
    expected = words(n)
    batch = np.stack([text_image(w) for w in expected]) if n else np.zeros((0, 32, 100, 3), np.uint8)
    assert texts(rec.recognize(batch)) == expected


def test_single_image_gives_a_list_of_one(rec):
    results = rec.recognize(text_image("hello"))
    assert texts(results) == ["hello"]
    assert rec.recognize_one(text_image("abc")).text == "abc"
    with pytest.raises(TypeError):
        rec.recognize_one([text_image("abc")])


def test_paths_including_unicode_names(rec, tmp_path):
    paths = []
    for i, w in enumerate(["hello", "abc"]):
        p = tmp_path / f"wörd_{i}_文字.png"
        ok, data = cv2.imencode(".png", text_image(w))
        assert ok
        data.tofile(str(p))
        paths.append(p)
    assert texts(rec.recognize(paths)) == ["hello", "abc"]
    assert texts(rec.recognize(str(paths[1]))) == ["abc"]
    assert texts(rec.recognize([paths[0], text_image("zz9")])) == ["hello", "zz9"]


def test_array_layouts_and_channel_counts(rec):
    img = text_image("hello")
    gray = np.ascontiguousarray(img[:, :, 0])
    readonly = img.copy()
    readonly.setflags(write=False)
    variants = {
        "strided": text_image("hello", scale=2)[::2, ::2],
        "fortran": np.asfortranarray(img),
        "readonly": readonly,
        "gray2d": gray,
        "gray3d": gray[:, :, None],
        "bgra": np.dstack([img, np.full(img.shape[:2], 255, np.uint8)]),
        "upscaled": text_image("hello", scale=2),
    }
    assert not variants["strided"].flags.c_contiguous
    assert texts(rec.recognize(list(variants.values()))) == ["hello"] * len(variants)


def test_narrow_image_is_padded_with_blank(rec):
    assert texts(rec.recognize(text_image("abc", steps=8))) == ["abc"]


def test_very_wide_and_very_tall_images(rec):
    wide = np.full((20, 60000, 3), 200, np.uint8)  # resized straight to 32x100, never to full height first
    tall = np.full((20000, 3, 3), 90, np.uint8)
    results = rec.recognize([wide, tall, text_image("abc")])
    assert len(results) == 3 and results[2].text == "abc"
    assert all(isinstance(r.text, str) for r in results)


def test_generator_input(rec):
    expected = words(6)
    assert texts(rec.recognize(text_image(w) for w in expected)) == expected


def test_recognize_iter_streams_100k_images_in_bounded_memory(model_path):
    """100,000 images from a generator: results in order, one bad entry skipped, memory bounded by one batch."""
    import tracemalloc

    total, bad_at = 100_000, 54_321
    templates = {w: text_image(w) for w in WORDS}

    def stream():
        for i in range(total):
            # A fresh array per entry, as a decoder would give: nothing is shared across the stream.
            yield np.zeros((0, 5, 3), np.uint8) if i == bad_at else templates[WORDS[i % len(WORDS)]].copy()

    with Recognizer(model_path, batch_size=64, on_error="skip") as r:
        tracemalloc.start()
        try:
            mismatches = count = 0
            for i, result in enumerate(r.recognize_iter(stream())):
                count += 1
                expected = None if i == bad_at else WORDS[i % len(WORDS)]
                mismatches += (None if result is None else result.text) != expected
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == total and mismatches == 0
    # All 100k images would be ~960 MB and their results ~10 MB; one batch of 64 is ~0.6 MB.
    assert peak < 8e6, f"peak traced memory {peak / 1e6:.1f} MB: the stream is being held"


def test_recognize_iter_matches_recognize_and_releases_the_lock_between_batches(rec):
    expected = words(10)
    stream = rec.recognize_iter(text_image(w) for w in expected)
    first = next(stream)
    assert first is not None and first.text == expected[0]
    assert rec.recognize(text_image("abc"))[0].text == "abc"  # another call between two batches of the stream
    assert [first.text, *texts(stream)] == expected
    assert texts(rec.recognize_iter(np.stack([text_image(w) for w in expected]))) == expected
    with pytest.raises(TypeError, match="images must be"):
        next(rec.recognize_iter(b"bytes"))


def test_return_char_probs(rec):
    result = rec.recognize(text_image("hello"), return_char_probs=True)[0]
    assert len(result.char_probs) == 5
    assert np.isclose(np.mean(result.char_probs), result.confidence, atol=1e-5)
    assert rec.recognize(text_image("hello"))[0].char_probs is None


# -- bad entries -------------------------------------------------------------------------------------------------


def bad_entries(tmp_path):
    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    return {
        "float": (np.zeros((32, 100, 3), np.float32), TypeError, "uint8"),
        "empty": (np.zeros((0, 100, 3), np.uint8), ValueError, "non-empty"),
        "rank4": (np.zeros((1, 32, 100, 3), np.uint8), ValueError, "shape"),
        "channels": (np.zeros((32, 100, 2), np.uint8), ValueError, "channels"),
        "none": (None, TypeError, "NoneType"),
        "missing": (tmp_path / "missing.png", FileNotFoundError, "missing.png"),
        "not_image": (not_image, ValueError, "notes.png"),
        "directory": (tmp_path, IsADirectoryError, "directory"),
    }


@pytest.mark.parametrize("kind", ["float", "empty", "rank4", "channels", "none", "missing", "not_image", "directory"])
def test_bad_entry_raises_naming_it(rec, tmp_path, kind):
    entry, exc_type, fragment = bad_entries(tmp_path)[kind]
    images = [text_image("abc"), text_image("q"), entry]
    with pytest.raises(exc_type, match="image 2") as info:
        rec.recognize(images)
    assert fragment in str(info.value)


def test_skip_leaves_the_other_entries_unaffected(model_path, tmp_path):
    bad = [entry for entry, _, _ in bad_entries(tmp_path).values()]
    good = words(9)
    mixed, expected = [], []
    for i, w in enumerate(good):
        mixed.append(text_image(w))
        expected.append(w)
        if i < len(bad):
            mixed.append(bad[i])
            expected.append(None)
    with Recognizer(model_path, batch_size=4, on_error="skip") as rec:
        skipped = rec.recognize(mixed)
        clean = rec.recognize([text_image(w) for w in good])
    assert texts(skipped) == expected
    assert [r for r in skipped if r is not None] == clean


def test_skip_per_call_overrides_default(rec, caplog):
    with caplog.at_level(logging.WARNING, logger="starnet_trt"):
        results = rec.recognize([np.zeros((4, 4), np.float64), text_image("abc")], on_error="skip")
    assert texts(results) == [None, "abc"]
    assert "image 0" in caplog.text
    with pytest.raises(ValueError, match="on_error"):
        rec.recognize([], on_error="ignore")


@pytest.mark.parametrize(
    ("images", "exc_type"),
    [
        (42, TypeError),
        (b"\x89PNG", TypeError),
        (np.zeros((2, 32, 100, 3), np.float32), TypeError),
        (np.zeros((2, 32, 100, 2), np.uint8), ValueError),
        ({"a": 1}, TypeError),
    ],
)
def test_wrong_top_level_input(rec, images, exc_type):
    with pytest.raises(exc_type):
        rec.recognize(images)


def test_empty_list(rec):
    assert rec.recognize([]) == []


# -- models ------------------------------------------------------------------------------------------------------


def test_model_description(rec):
    assert [(i.name, i.shape[1:]) for i in rec.inputs] == [("x", (3, 32, 100))]
    assert [(o.name, o.shape[1:]) for o in rec.outputs] == [("probs", (25, 37))]
    assert rec.metadata.charset == DEFAULT_CHARSET
    assert rec.backend_name == "onnxruntime"
    assert rec.providers == ["CPUExecutionProvider"]
    assert rec.batch_size == 4
    assert "tiny.onnx" in repr(rec)


def test_timings_accumulate(rec):
    rec.reset_timings()
    rec.recognize([text_image(w) for w in words(5)])
    t = rec.timings
    assert t["batches"] == 2 and t["images"] == 5
    assert t["inference"] > 0 and t["preprocess"] > 0 and t["decode"] > 0


def test_logits_model_gives_probabilities(tmp_path, rec):
    logits = make_model(tmp_path / "logits.onnx", output="logits")
    images = [text_image(w) for w in words(5)]
    with Recognizer(logits) as rec_logits:
        got = rec_logits.recognize(images)
    want = rec.recognize(images)
    assert texts(got) == texts(want)
    assert np.allclose([r.confidence for r in got], [r.confidence for r in want], atol=1e-5)


def test_output_shape_left_dynamic_by_the_exporter(tmp_path, monkeypatch):
    # TorchScript exports of the real model declare probs as [batch, <symbol>, 37]; ORT infers the tiny model's
    # shape, so present its output as symbolic to exercise the "learn T from one run" path.
    from starnet_trt.backends import onnxruntime_backend
    from starnet_trt.backends.base import TensorInfo

    def symbolic_output(self):
        return TensorInfo("probs", ("N", "T", "classes"), "tensor(float)")

    monkeypatch.setattr(onnxruntime_backend.OnnxRuntimeBackend, "_output", symbolic_output)
    with Recognizer(make_model(tmp_path / "dyn.onnx"), batch_size=4) as rec:
        assert rec._backend._out_buf.shape == (4, 25, 37)
        assert texts(rec.recognize([text_image(w) for w in words(5)])) == words(5)
    bad = make_model(tmp_path / "dyn_bad.onnx", charset="0123456789", num_classes=37)
    with pytest.raises(ValueError, match=r"37 classes.*11"):
        Recognizer(bad)


def test_gray_model_accepts_bgr_and_gray(tmp_path):
    path = make_model(tmp_path / "gray.onnx", channels=1)
    img = text_image("abc")
    with Recognizer(path) as rec:
        assert rec.inputs[0].shape[1] == 1
        assert texts(rec.recognize([img, img[:, :, 0]])) == ["abc", "abc"]


def test_fixed_batch_model(tmp_path, caplog):
    path = make_model(tmp_path / "fixed.onnx", batch=2)
    with caplog.at_level(logging.WARNING, logger="starnet_trt"), Recognizer(path, batch_size=4) as rec:
        assert rec.batch_size == 2
        assert texts(rec.recognize([text_image(w) for w in words(2)])) == words(2)
    assert "fixed batch size" in caplog.text


def test_explicit_providers(model_path):
    with Recognizer(model_path, providers=["CPUExecutionProvider"]) as rec:
        assert rec.providers == ["CPUExecutionProvider"]


def test_missing_and_invalid_models(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.onnx"):
        Recognizer(tmp_path / "nope.onnx")
    with pytest.raises(IsADirectoryError):
        Recognizer(tmp_path)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00not a model")
    with pytest.raises(ValueError, match="cannot load ONNX model"):
        Recognizer(garbage)
    with pytest.raises(TypeError, match="model must be a path"):
        Recognizer(123)


def test_model_without_metadata(tmp_path):
    with pytest.raises(ValueError, match="lacks starnet-trt metadata"):
        Recognizer(make_model(tmp_path / "bare.onnx", metadata=False))


def test_charset_disagreeing_with_output(tmp_path):
    path = make_model(tmp_path / "short.onnx", charset="0123456789", num_classes=37)
    with pytest.raises(ValueError, match=r"11 classes.*37"):
        Recognizer(path)


def test_engine_backend_is_not_faked(tmp_path):
    # An engine is run by the TensorRT predictor or refused (here: no sidecar), never by something else.
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"engine")
    with pytest.raises(FileNotFoundError, match=r"engine sidecar not found: .*model\.json"):
        Recognizer(engine)


def test_unknown_suffix_needs_explicit_backend(tmp_path, model_path):
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(model_path.read_bytes())
    with pytest.raises(ValueError, match=r"'\.onnx' or '\.engine'"):
        Recognizer(renamed)
    with Recognizer(renamed, backend="onnxruntime") as rec:
        assert texts(rec.recognize(text_image("abc"))) == ["abc"]


@pytest.mark.parametrize(
    ("kwargs", "exc_type"),
    [
        ({"backend": "cuda"}, ValueError),
        ({"batch_size": 0}, ValueError),
        ({"batch_size": "8"}, TypeError),
        ({"batch_size": True}, TypeError),
        ({"num_threads": -1}, ValueError),
        ({"providers": "CPUExecutionProvider"}, TypeError),
        ({"on_error": "ignore"}, ValueError),
    ],
)
def test_bad_arguments(model_path, kwargs, exc_type):
    with pytest.raises(exc_type):
        Recognizer(model_path, **kwargs)


def test_no_bundled_default_model(monkeypatch, tmp_path):
    monkeypatch.setattr(recognizer_module, "DEFAULT_MODEL_PATH", tmp_path / "absent.onnx")
    with pytest.raises(FileNotFoundError, match="no default model is bundled"):
        Recognizer()


def test_bundled_default_model_is_used_when_present(monkeypatch, model_path):
    monkeypatch.setattr(recognizer_module, "DEFAULT_MODEL_PATH", model_path)
    with Recognizer() as rec:
        assert rec.model_path == str(model_path)


def test_close(model_path):
    rec = Recognizer(model_path)
    rec.close()
    rec.close()
    with pytest.raises(RuntimeError, match="closed"):
        rec.recognize(text_image("abc"))
    with Recognizer(model_path) as rec2:
        pass
    with pytest.raises(RuntimeError):
        _ = rec2.inputs


def test_shared_between_threads(rec):
    expected = words(9)
    images = [text_image(w) for w in expected]
    errors, outputs = [], []

    def work():
        try:
            for _ in range(5):
                outputs.append(texts(rec.recognize(images)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert outputs == [expected] * 15


def test_eight_threads_with_their_own_recognizers_match_a_sequential_run():
    """One Recognizer per thread (the documented pattern for parallel work): identical texts and confidences."""
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "examples" / "words"
    paths = sorted(str(p) for p in folder.glob("*.png"))[:12]
    with Recognizer() as rec:
        expected = [(r.text, r.confidence) for r in rec.recognize(paths)]

    def work(offset: int) -> list[tuple[str, float]]:
        order = paths[offset:] + paths[:offset]  # each thread in its own order
        with Recognizer(batch_size=5) as own:
            got = [(r.text, r.confidence) for r in own.recognize(order)]
        return got[len(paths) - offset :] + got[: len(paths) - offset]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    assert all(result == expected for result in results)


def test_cpu_runs_big_batches_in_slices(monkeypatch, tmp_path):
    # The CPU session runs CPU_RUN_ROWS rows at a time at offsets into the shared buffers; a wrong offset would
    # give another image's text.
    from starnet_trt.backends.onnxruntime_backend import OnnxRuntimeBackend

    monkeypatch.setattr(OnnxRuntimeBackend, "CPU_RUN_ROWS", 3)
    batch = [text_image(w) for w in words(23)]
    with Recognizer(make_model(tmp_path / "m.onnx"), batch_size=16) as rec:
        assert rec._backend._run_rows == 3
        assert texts(rec.recognize(batch)) == words(23)
    with Recognizer(make_model(tmp_path / "fixed.onnx", batch=8), batch_size=16) as rec:
        assert rec._backend._run_rows == 8  # a fixed batch dimension runs whole, partial batches too
        assert texts(rec.recognize(batch)) == words(23)
        assert texts(rec.recognize(batch[:3])) == words(3)
