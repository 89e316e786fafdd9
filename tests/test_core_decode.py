"""ctc_greedy_decode (native core) against a pure-Python CTC greedy decoder and PaddleOCR's CTCLabelDecode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starnet_trt import _core, reference
from starnet_trt.ops import ctc_beam_search_decode, ctc_greedy_decode

CHARSET = ["blank", *"0123456789abcdefghijklmnopqrstuvwxyz"]


def _python_decode(scores: np.ndarray, blank: int = 0) -> tuple[list[list[int]], list[float]]:
    """Plain loops, no numpy argmax: first index wins ties, repeats collapse across the raw sequence."""
    all_indices, all_conf = [], []
    for sample in scores.astype(np.float32).tolist():
        kept, maxima, previous = [], [], None
        for step in sample:
            best = 0
            for c in range(1, len(step)):
                if step[c] > step[best]:
                    best = c
            if best != blank and best != previous:
                kept.append(best)
                maxima.append(step[best])
            previous = best
        all_indices.append(kept)
        all_conf.append(sum(maxima) / len(maxima) if maxima else 0.0)
    return all_indices, all_conf


def _check(scores: np.ndarray, blank: int = 0, num_threads: int = 0) -> None:
    indices, lengths, conf = ctc_greedy_decode(scores, blank=blank, num_threads=num_threads)
    exp_indices, exp_conf = _python_decode(scores, blank)
    n, t = scores.shape[:2]
    assert indices.shape == (n, t) and indices.dtype == np.int32
    assert lengths.shape == (n,) and lengths.dtype == np.int32
    assert conf.shape == (n,) and conf.dtype == np.float32
    for i in range(n):
        assert lengths[i] == len(exp_indices[i])
        assert indices[i, : lengths[i]].tolist() == exp_indices[i]
        assert (indices[i, lengths[i] :] == -1).all()
    np.testing.assert_allclose(conf, np.asarray(exp_conf, np.float32), rtol=1e-6, atol=0)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 9),
    t=st.integers(0, 30),
    c=st.integers(1, 40),
    dtype=st.sampled_from([np.float32, np.float16]),
    levels=st.sampled_from([0, 3, 1000]),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_matches_python_reference(n: int, t: int, c: int, dtype: type, levels: int, seed: int, data) -> None:
    rng = np.random.default_rng(seed)
    # Few distinct levels -> many ties (first index must win); 0 -> continuous softmax-like scores.
    scores = rng.integers(0, levels, size=(n, t, c)) / levels if levels else rng.random((n, t, c))
    scores = scores.astype(dtype)
    blank = data.draw(st.integers(0, c - 1))
    _check(scores, blank=blank)


def test_strided_inputs() -> None:
    rng = np.random.default_rng(0)
    base = rng.random((12, 30, 50)).astype(np.float32)
    _check(base[::2, ::-1, 3:40])
    _check(np.ascontiguousarray(base.transpose(2, 1, 0)).transpose(2, 1, 0))
    readonly = base.copy()
    readonly.flags.writeable = False
    _check(readonly)
    _check(base.astype(np.float16)[:, ::3, ::-1])


def test_threads_agree() -> None:
    scores = np.random.default_rng(1).random((97, 25, 37)).astype(np.float32)
    one = ctc_greedy_decode(scores, num_threads=1)
    many = ctc_greedy_decode(scores, num_threads=8)
    for a, b in zip(one, many, strict=True):
        np.testing.assert_array_equal(a, b)


def test_collapse_semantics() -> None:
    eye = np.eye(4, dtype=np.float32)
    # a a - a b b - - c  ->  a a b c  (a blank separates repeats)
    scores = eye[[1, 1, 0, 1, 2, 2, 0, 0, 3]][None] * 0.5
    indices, lengths, conf = ctc_greedy_decode(scores)
    assert indices[0, : lengths[0]].tolist() == [1, 1, 2, 3]
    assert conf[0] == pytest.approx(0.5)
    # all blank -> nothing kept, confidence 0 (not NaN)
    indices, lengths, conf = ctc_greedy_decode(eye[[0, 0, 0]][None])
    assert lengths[0] == 0 and conf[0] == 0.0 and (indices == -1).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("classes", [1, 3, 4, 5, 8, 37, 41])
def test_argmax_edge_values(dtype: type, classes: int) -> None:
    """Ties across SIMD lanes, infinities and the largest finite value all follow numpy's first-index argmax."""
    finfo = np.finfo(dtype)
    rows = [
        np.zeros(classes),  # all tied -> class 0 (blank)
        np.full(classes, -np.inf),  # all -inf -> class 0
        np.r_[np.full(classes - 1, -np.inf), finfo.min][-classes:],  # -inf then the lowest finite value
        np.r_[np.arange(classes) % 3][::-1],  # repeated maxima in several lanes
        np.r_[np.zeros(classes - 1), np.inf][-classes:],  # +inf last
    ]
    scores = np.stack([np.tile(r, (3, 1)) for r in rows]).astype(dtype)
    _check(scores, blank=0)
    _check(scores, blank=classes - 1)


def test_matches_paddleocr_ctc_label_decode() -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(64, 25, 37)) * 3
    logits[:, :, 0] += 2  # blanks as in real outputs
    probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    expected = reference.ctc_label_decode(probs, CHARSET)
    indices, lengths, conf = ctc_greedy_decode(probs)
    texts = ["".join(CHARSET[k] for k in indices[i, : lengths[i]]) for i in range(len(probs))]
    assert texts == [text for text, _ in expected]
    np.testing.assert_allclose(conf, [score for _, score in expected], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_nan_names_the_sample(dtype: type) -> None:
    scores = np.random.default_rng(3).random((6, 10, 8)).astype(dtype)
    scores[4, 7, 2] = np.nan
    scores[2, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"scores\[2\].*NaN"):
        ctc_greedy_decode(scores)


def test_empty_shapes() -> None:
    indices, lengths, conf = ctc_greedy_decode(np.zeros((3, 0, 5), np.float32))
    assert indices.shape == (3, 0) and lengths.tolist() == [0, 0, 0] and conf.tolist() == [0.0, 0.0, 0.0]
    indices, lengths, conf = ctc_greedy_decode(np.zeros((0, 4, 5), np.float32))
    assert indices.shape == (0, 4) and lengths.shape == (0,)


@pytest.mark.parametrize(
    ("scores", "blank", "exc", "match"),
    [
        (np.zeros((2, 3, 4), np.float64), 0, TypeError, "float32 or float16"),
        (np.zeros((2, 3, 4), np.int32), 0, TypeError, "float32 or float16"),
        ([[[0.5]]], 0, TypeError, "numpy array"),
        (np.zeros((3, 4), np.float32), 0, ValueError, "rank 3"),
        (np.zeros((2, 3, 4), np.float32), 4, ValueError, "blank"),
        (np.zeros((2, 3, 4), np.float32), -1, ValueError, "blank"),
        (np.zeros((2, 3, 0), np.float32), 0, ValueError, "blank"),
        (np.zeros((2, 3, 4), np.float32), 1.5, TypeError, "blank"),
    ],
)
def test_bad_inputs(scores: object, blank: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        ctc_greedy_decode(scores, blank=blank)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scores", "blank", "exc"),
    [
        (np.zeros((2, 3, 4), np.float64), 0, ValueError),
        (np.zeros((3, 4), np.float32), 0, ValueError),
        (np.zeros((2, 3, 4), np.float32), 9, ValueError),
        (np.zeros((2, 3, 0), np.float32), 0, ValueError),
        ([[[0.5]]], 0, TypeError),
    ],
)
def test_core_validates_without_crashing(scores: object, blank: int, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        _core.ctc_greedy_decode(scores, blank)  # type: ignore[arg-type]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cuda_twin_matches_cpu(dtype: type) -> None:
    rng = np.random.default_rng(4)
    for shape, levels in [((256, 25, 37), 0), ((33, 40, 70), 3), ((5, 1, 1), 0)]:
        scores = (rng.integers(0, levels, size=shape) / levels if levels else rng.random(shape)).astype(dtype)
        cpu = ctc_greedy_decode(scores)
        gpu = _core.ctc_greedy_decode_cuda(scores[:, ::-1][:, ::-1])
        for a, b in zip(cpu, gpu, strict=True):
            np.testing.assert_array_equal(a, b)
    scores = rng.random((8, 5, 6)).astype(dtype)
    scores[5, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"scores\[5\]"):
        _core.ctc_greedy_decode_cuda(scores)


# ------------------------------------------------------------------------------------------------ beam search


def _softmax(rng: np.random.Generator, shape: tuple[int, ...], sharpness: float = 2.0) -> np.ndarray:
    logits = rng.normal(size=shape) * sharpness
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 4),
    t=st.integers(0, 10),
    c=st.integers(1, 7),
    beam=st.integers(1, 8),
    dtype=st.sampled_from([np.float32, np.float16]),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_beam_search_matches_python_reference(n: int, t: int, c: int, beam: int, dtype: type, seed: int, data) -> None:
    probs = _softmax(np.random.default_rng(seed), (n, t, c)).astype(dtype)
    blank = data.draw(st.integers(0, c - 1))
    got = ctc_beam_search_decode(probs, beam_width=beam, blank=blank)
    assert len(got) == n
    for i in range(n):
        ids, logp = reference.ctc_prefix_beam_search(probs[i], beam_width=beam, blank=blank)
        assert got[i][0] == ids
        assert got[i][1] == pytest.approx(logp, rel=1e-12, abs=1e-12)


def _collapse(path: tuple[int, ...], blank: int) -> tuple[int, ...]:
    out, previous = [], None
    for k in path:
        if k != blank and k != previous:
            out.append(k)
        previous = k
    return tuple(out)


def test_wide_beam_finds_the_most_probable_labelling() -> None:
    """With a beam wider than the number of prefixes the search is exact: check against brute force."""
    import itertools

    probs = _softmax(np.random.default_rng(5), (3, 5, 3), sharpness=0.7)
    got = ctc_beam_search_decode(probs, beam_width=1000)
    for i in range(len(probs)):
        totals: dict[tuple[int, ...], float] = {}
        for path in itertools.product(range(3), repeat=5):
            p = float(np.prod([probs[i, t, k] for t, k in enumerate(path)], dtype=np.float64))
            totals[_collapse(path, 0)] = totals.get(_collapse(path, 0), 0.0) + p
        best = max(totals.items(), key=lambda kv: kv[1])
        assert tuple(got[i][0]) == best[0]
        assert np.exp(got[i][1]) == pytest.approx(best[1], rel=1e-6)


def test_beam_search_prefers_summed_alignments_over_greedy_path() -> None:
    # Greedy reads blank twice (0.6 each) -> "", but "a" has probability 1 - 0.6**2 = 0.64.
    probs = np.array([[[0.6, 0.4], [0.6, 0.4]]], np.float32)
    _, lengths, _ = ctc_greedy_decode(probs)
    assert lengths[0] == 0
    ids, logp = ctc_beam_search_decode(probs)[0]
    assert ids == [1]
    assert np.exp(logp) == pytest.approx(0.64, rel=1e-6)


@pytest.mark.parametrize(("value", "match"), [(np.nan, "NaN"), (-0.5, "negative")])
def test_beam_search_bad_values_name_the_sample(value: float, match: str) -> None:
    probs = _softmax(np.random.default_rng(6), (5, 4, 3))
    probs[3, 2, 1] = value
    with pytest.raises(ValueError, match=rf"scores\[3\].*{match}"):
        ctc_beam_search_decode(probs)


def test_beam_search_bad_arguments() -> None:
    probs = _softmax(np.random.default_rng(7), (1, 4, 3))
    with pytest.raises(ValueError, match="beam_width"):
        ctc_beam_search_decode(probs, beam_width=0)
    with pytest.raises(TypeError, match="beam_width"):
        ctc_beam_search_decode(probs, beam_width=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="blank"):
        ctc_beam_search_decode(probs, blank=3)
    with pytest.raises(TypeError, match="float32 or float16"):
        ctc_beam_search_decode(probs.astype(np.float64))
    with pytest.raises(ValueError):
        _core.ctc_beam_search_decode(probs, 0)
