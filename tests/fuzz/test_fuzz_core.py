"""Fuzz the native core's entry points with random arrays: dtypes, ranks, empty and extreme shapes, strides,
NaN/inf and out-of-range arguments. Only TypeError/ValueError may come out."""

from __future__ import annotations

import numpy as np

from starnet_trt import _core
from starnet_trt.ops import ctc_beam_search_decode, ctc_greedy_decode, resize_normalize, tps_grid_sample

from .conftest import call

DTYPES = [np.uint8, np.uint8, np.uint8, np.float32, np.float16, np.int32, np.float64, np.bool_, np.int8]
ALLOWED = (TypeError, ValueError)


def _shape(rng: np.random.Generator, ndim: int, big: int = 64, extreme: bool = True) -> tuple[int, ...]:
    dims = []
    for _ in range(ndim):
        r = rng.random()
        dims.append(0 if r < 0.05 else 1 if r < 0.15 else int(rng.integers(2, big)))
    if extreme and ndim >= 2 and rng.random() < 0.05:  # extreme aspect ratios
        dims[0], dims[1] = (1, 20000) if rng.random() < 0.5 else (20000, 1)
    return tuple(dims)


def _array(rng: np.random.Generator, ndim: int, dtype: type, big: int = 64, extreme: bool = True) -> np.ndarray:
    shape = _shape(rng, ndim, big, extreme)
    if np.dtype(dtype).kind == "f":
        a = rng.normal(0, 3, shape).astype(dtype)
        if a.size and rng.random() < 0.2:
            a.flat[rng.integers(0, a.size)] = rng.choice([np.nan, np.inf, -np.inf])
    else:
        a = rng.integers(0, 256, shape).astype(dtype)
    return _view(rng, a)


def _view(rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
    r = rng.random()
    if a.ndim >= 2 and r < 0.15:
        a = a[::-1]
    elif a.ndim >= 2 and r < 0.3:
        a = a[:, ::2]
    elif a.ndim >= 3 and r < 0.4:
        a = np.moveaxis(a, -1, 0).copy()
        a = np.moveaxis(a, 0, -1)  # same shape, Fortran-ish strides
    if rng.random() < 0.1:
        a.flags.writeable = False
    return a


def _image(rng: np.random.Generator) -> np.ndarray:
    """Mostly well-formed word images (so the native loops run), sometimes anything."""
    if rng.random() < 0.3:
        return _array(rng, int(rng.choice([0, 1, 2, 3, 3, 3, 4])), rng.choice(DTYPES))
    h, w = _shape(rng, 2, 300)
    c = int(rng.choice([0, 1, 3, 3, 4]))
    img = rng.integers(0, 256, (h, w) if c == 0 else (h, w, c), dtype=np.uint8)
    return _view(rng, img)


def test_fuzz_resize_normalize(fuzzer):
    def one(rng):
        count = int(rng.integers(0, 6))
        images = [_image(rng) for _ in range(count)]
        if rng.random() < 0.05:
            images = [rng.random()]  # not an array at all
        kwargs = {}
        if rng.random() < 0.3:
            kwargs = {"height": int(rng.integers(-2, 70)), "width": int(rng.integers(-2, 400))}
        if rng.random() < 0.2:
            kwargs["channel_order"] = str(rng.choice(["bgr", "rgb", "hsv", ""]))
        if rng.random() < 0.2:
            kwargs["channels"] = int(rng.choice([1, 3, 2, 0]))

        def run():
            out, widths = resize_normalize(images, **kwargs)
            assert out.dtype == np.float32 and np.isfinite(out).all()
            assert ((widths >= 1) & (widths <= out.shape[3])).all()

        return call(run, ALLOWED)

    fuzzer.run(one)


def test_fuzz_ctc_decoders(fuzzer):
    def one(rng):
        dtype = rng.choice([np.float32, np.float16, np.float64])
        scores = _array(rng, int(rng.choice([1, 2, 3, 3, 3, 4])), dtype, 40, extreme=False)
        blank = int(rng.integers(-2, 45))
        if rng.random() < 0.5:
            return call(lambda: ctc_greedy_decode(scores, blank=blank), ALLOWED)
        probs = np.abs(scores) if rng.random() < 0.8 else scores
        return call(lambda: ctc_beam_search_decode(probs, beam_width=int(rng.integers(0, 6)), blank=blank), ALLOWED)

    fuzzer.run(one)


def test_fuzz_tps_grid_sample(fuzzer):
    def one(rng):
        n = int(rng.integers(0, 4))
        if rng.random() < 0.3:
            dtype = rng.choice([np.float32, np.float16, np.float64])
            image = _array(rng, int(rng.choice([3, 4, 5])), dtype, 24, extreme=False)
        else:
            dims = (n, int(rng.integers(1, 4)), *_shape(rng, 2, 48, extreme=False))
            image = _view(rng, rng.normal(0, 1, dims).astype(rng.choice([np.float32, np.float16])))
        f = int(rng.choice([4, 6, 20, 20, 20, 19, 0, 34]))
        with np.errstate(over="ignore"):  # huge fiducials overflow float16 to inf on purpose
            fid = rng.normal(0, float(rng.choice([0.5, 3, 1e6])), (n, f, int(rng.choice([2, 2, 2, 3])))).astype(
                rng.choice([np.float32, np.float16])
            )
        if fid.size and rng.random() < 0.2:
            fid.flat[rng.integers(0, fid.size)] = np.nan
        oh, ow = int(rng.integers(-1, 40)), int(rng.integers(-1, 120))
        padding = str(rng.choice(["zeros", "zeros", "border", "reflection"]))

        def run():
            out = tps_grid_sample(image, fid, oh, ow, bool(rng.integers(0, 2)), padding)
            assert out.shape == (n, image.shape[1], oh, ow) and out.dtype == image.dtype

        return call(run, ALLOWED)

    fuzzer.run(one)


def test_fuzz_raw_core_arguments(fuzzer):
    """The pybind11 layer itself, below the Python checks: wrong types must become TypeError, never a crash."""
    values = [None, 3, -1, 2.5, "x", b"x", [1, 2], np.zeros(3), np.zeros((2, 2, 2), np.float32), object()]

    def one(rng):
        name = str(rng.choice(["resize_normalize", "ctc_greedy_decode", "ctc_beam_search_decode", "tps_grid_sample"]))
        args = [values[int(rng.integers(0, len(values)))] for _ in range(int(rng.integers(0, 5)))]
        return call(lambda: getattr(_core, name)(*args), ALLOWED)

    fuzzer.run(one)
