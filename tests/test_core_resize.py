"""resize_normalize (native core) against PaddleOCR's resize_norm_img and cv2.resize."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from starnet_trt import _core, reference
from starnet_trt.ops import resize_normalize

# Spec tolerance: one pixel level in normalised units. The core is bit-exact with opencv-python on x86-64, but other
# OpenCV builds (NEON, IPP) may round the vertical pass differently.
TOL = 2.0 / 255.0


def _expected(img: np.ndarray, channels: int = 3, height: int = 32, width: int = 100, rgb: bool = False) -> np.ndarray:
    """Oracle built on the PaddleOCR reference (BGR planes; gray/alpha/rgb handled before or after it)."""
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    img = np.ascontiguousarray(img[:, :, :3])
    if rgb:
        img = np.ascontiguousarray(img[:, :, ::-1])
    if channels == 3:
        return reference.resize_norm_img(img, (3, height, width))
    rw = _resized_width(img.shape[0], img.shape[1], height, width)
    bgr = cv2.resize(img, (rw, height)).astype(np.float32)
    gray = 0.114 * bgr[:, :, 0] + 0.587 * bgr[:, :, 1] + 0.299 * bgr[:, :, 2]
    out = np.zeros((1, height, width), np.float32)
    out[0, :, :rw] = (gray / 255.0 - 0.5) / 0.5
    return out


def _resized_width(h: int, w: int, height: int = 32, width: int = 100) -> int:
    return min(math.ceil(height * (w / h)), width)


def _random_image(rng: np.random.Generator, h: int, w: int, c: int | None) -> np.ndarray:
    shape = (h, w) if c is None else (h, w, c)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(1, 160),
    w=st.integers(1, 600),
    c=st.sampled_from([None, 1, 3, 4]),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_reference_random_shapes(h: int, w: int, c: int | None, seed: int) -> None:
    img = _random_image(np.random.default_rng(seed), h, w, c)
    out, widths = resize_normalize([img])
    assert widths.tolist() == [_resized_width(h, w)]
    np.testing.assert_allclose(out[0], _expected(img), rtol=0, atol=TOL)


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 80),
    w=st.integers(1, 300),
    height=st.sampled_from([16, 32, 48]),
    width=st.sampled_from([1, 64, 100, 320]),
    seed=st.integers(0, 2**32 - 1),
)
def test_other_model_geometries(h: int, w: int, height: int, width: int, seed: int) -> None:
    img = _random_image(np.random.default_rng(seed), h, w, 3)
    out, widths = resize_normalize([img], height=height, width=width)
    assert widths.tolist() == [_resized_width(h, w, height, width)]
    np.testing.assert_allclose(out[0], _expected(img, height=height, width=width), rtol=0, atol=TOL)


@pytest.mark.parametrize("c", [3, 4])
def test_bit_exact_with_cv2_on_common_shapes(c: int) -> None:
    """Documents the exactness claim (SIMD body and scalar tail, packed and strided rows); the tolerance-based
    tests are what guard portability to other OpenCV builds."""
    rng = np.random.default_rng(0)
    shapes = [(31, 100), (64, 200), (16, 50), (24, 300), (57, 205), (8, 25), (100, 1), (1, 3), (40, 5), (33, 7)]
    for h, w in shapes:
        img = _random_image(rng, h, w, c)
        expected = reference.resize_norm_img(np.ascontiguousarray(img[:, :, :3]))
        for view in (img, img[::-1][::-1], np.asfortranarray(img)):
            out, _ = resize_normalize([view])
            np.testing.assert_array_equal(out[0], expected)


@pytest.mark.parametrize("c", [None, 3, 4])
def test_every_level_is_exact(c: int | None) -> None:
    """Identity geometry (32 x 256 -> 32 x 256) with column x = level x: every uint8 level through every code path
    (SIMD body, scalar tail, gray) must give exactly PaddleOCR's (v / 255 - 0.5) / 0.5 in float32."""
    levels = np.tile(np.arange(256, dtype=np.uint8), (32, 1))
    img = levels if c is None else np.repeat(levels[:, :, None], c, axis=2)
    out, widths = resize_normalize([img], width=256)
    assert widths.tolist() == [256]
    expected = (np.arange(256, dtype=np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
    for plane in out[0]:
        np.testing.assert_array_equal(plane, np.broadcast_to(expected, (32, 256)))


def _strided_variants(img: np.ndarray) -> dict[str, np.ndarray]:
    big = np.zeros((img.shape[0] * 2 + 3, img.shape[1] * 3 + 1, img.shape[2] + 2), np.uint8)
    big[1 : 1 + 2 * img.shape[0] : 2, 2 : 2 + 3 * img.shape[1] : 3, 1 : 1 + img.shape[2]] = img
    readonly = img.copy()
    readonly.flags.writeable = False
    flipped = np.ascontiguousarray(img[::-1, ::-1, ::-1])
    transposed = np.ascontiguousarray(img.transpose(1, 0, 2)).transpose(1, 0, 2)
    fortran = np.asfortranarray(img)
    return {
        "sliced": big[1 : 1 + 2 * img.shape[0] : 2, 2 : 2 + 3 * img.shape[1] : 3, 1 : 1 + img.shape[2]],
        "negative": flipped[::-1, ::-1, ::-1],
        "readonly": readonly,
        "transposed": transposed,
        "fortran": fortran,
    }


@pytest.mark.parametrize("kind", ["sliced", "negative", "readonly", "transposed", "fortran"])
def test_any_strides_same_result(kind: str) -> None:
    img = _random_image(np.random.default_rng(1), 37, 211, 3)
    view = _strided_variants(img)[kind]
    assert np.array_equal(view, img)
    expected, _ = resize_normalize([img])
    got, _ = resize_normalize([view])
    np.testing.assert_array_equal(got, expected)


def test_batch_array_equals_list() -> None:
    rng = np.random.default_rng(2)
    batch = rng.integers(0, 256, size=(5, 40, 90, 3), dtype=np.uint8)
    from_list, w_list = resize_normalize(list(batch))
    from_array, w_array = resize_normalize(batch)
    from_strided, _ = resize_normalize(np.ascontiguousarray(batch[::-1])[::-1])
    np.testing.assert_array_equal(from_array, from_list)
    np.testing.assert_array_equal(from_strided, from_list)
    np.testing.assert_array_equal(w_array, w_list)


def test_mixed_sizes_and_threads_agree() -> None:
    rng = np.random.default_rng(3)
    images = [_random_image(rng, int(rng.integers(1, 90)), int(rng.integers(1, 400)), 3) for _ in range(23)]
    single, w1 = resize_normalize(images, num_threads=1)
    multi, w4 = resize_normalize(images, num_threads=4)
    np.testing.assert_array_equal(single, multi)
    np.testing.assert_array_equal(w1, w4)
    for i, img in enumerate(images):
        np.testing.assert_allclose(single[i], _expected(img), rtol=0, atol=TOL)


def test_padding_is_exact_zero_and_out_is_reused() -> None:
    img = _random_image(np.random.default_rng(4), 64, 40, 3)
    out = np.full((1, 3, 32, 100), np.nan, np.float32)
    result, widths = resize_normalize([img], out)
    assert result is out
    rw = int(widths[0])
    assert rw == 20
    assert np.all(out[..., rw:] == 0.0)
    assert np.isfinite(out).all()


def test_rgb_input_is_swapped_to_bgr_planes() -> None:
    bgr = _random_image(np.random.default_rng(5), 30, 77, 3)
    rgb = bgr[:, :, ::-1]
    from_bgr, _ = resize_normalize([bgr])
    from_rgb, _ = resize_normalize([rgb], channel_order="rgb")
    np.testing.assert_array_equal(from_rgb, from_bgr)
    np.testing.assert_allclose(from_rgb[0], _expected(np.ascontiguousarray(rgb), rgb=True), rtol=0, atol=TOL)


@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_alpha_channel_is_dropped(order: str) -> None:
    rgba = _random_image(np.random.default_rng(6), 33, 120, 4)
    with_alpha, _ = resize_normalize([rgba], channel_order=order)
    without, _ = resize_normalize([np.ascontiguousarray(rgba[:, :, :3])], channel_order=order)
    np.testing.assert_array_equal(with_alpha, without)


def test_gray_input_is_replicated() -> None:
    gray = _random_image(np.random.default_rng(7), 45, 150, None)
    from_2d, _ = resize_normalize([gray])
    from_c1, _ = resize_normalize([gray[:, :, None]])
    np.testing.assert_array_equal(from_2d, from_c1)
    np.testing.assert_array_equal(from_2d[0, 0], from_2d[0, 1])
    np.testing.assert_array_equal(from_2d[0, 0], from_2d[0, 2])
    expected = reference.resize_norm_img(gray, (1, 32, 100))
    np.testing.assert_allclose(from_2d[0, :1], expected, rtol=0, atol=TOL)


@pytest.mark.parametrize("c", [None, 1, 3, 4])
def test_gray_output(c: int | None) -> None:
    img = _random_image(np.random.default_rng(8), 50, 133, c)
    out, _ = resize_normalize([img], channels=1)
    assert out.shape == (1, 1, 32, 100)
    np.testing.assert_allclose(out[0], _expected(img, channels=1), rtol=0, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 100000, 3), (100000, 1, 3), (1, 1, 3), (2, 65535), (3000, 7, 1)])
def test_extreme_aspect_ratios(shape: tuple[int, ...]) -> None:
    img = np.random.default_rng(9).integers(0, 256, size=shape, dtype=np.uint8)
    out, widths = resize_normalize([img])
    assert widths.tolist() == [_resized_width(shape[0], shape[1])]
    np.testing.assert_allclose(out[0], _expected(img), rtol=0, atol=TOL)


# ---------------------------------------------------------------------------------------------- bad inputs


def _ok() -> np.ndarray:
    return np.zeros((32, 64, 3), np.uint8)


@pytest.mark.parametrize(
    ("images", "exc", "match"),
    [
        ([_ok(), _ok(), _ok(), _ok().astype(np.float32)], TypeError, r"images\[3\].*uint8"),
        ([_ok(), [[1, 2], [3, 4]]], TypeError, r"images\[1\].*numpy array"),
        ("not images", TypeError, "list of numpy arrays"),
        (_ok().astype(np.float64)[None], TypeError, "uint8"),
        ([], ValueError, "empty"),
        ([_ok(), np.zeros((0, 10, 3), np.uint8)], ValueError, r"images\[1\].*non-empty"),
        ([np.zeros((5, 0), np.uint8)], ValueError, r"images\[0\].*non-empty"),
        ([np.zeros((2, 3, 4, 3), np.uint8)], ValueError, r"images\[0\].*rank"),
        ([np.zeros(7, np.uint8)], ValueError, r"images\[0\].*rank"),
        ([_ok(), np.zeros((4, 4, 2), np.uint8)], ValueError, r"images\[1\].*1, 3 or 4 channels"),
        ([np.zeros((4, 4, 5), np.uint8)], ValueError, "got 5"),
        (_ok(), ValueError, "NxHxWxC"),
        (np.zeros((0, 4, 4, 3), np.uint8), ValueError, "empty"),
    ],
)
def test_bad_images(images: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        resize_normalize(images)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("out", "exc", "match"),
    [
        (np.zeros((2, 3, 32, 100), np.float64), TypeError, "float32"),
        (np.zeros((1, 3, 32, 100), np.float32), ValueError, r"expected shape \(2, 3, 32, 100\)"),
        (np.zeros((2, 3, 32, 99), np.float32), ValueError, "expected shape"),
        (np.zeros((2, 3, 32, 200), np.float32)[..., ::2], ValueError, "C-contiguous"),
        ([[0.0]], TypeError, "numpy array"),
    ],
)
def test_bad_out(out: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        resize_normalize([_ok(), _ok()], out)  # type: ignore[arg-type]


def test_readonly_out_and_bad_options() -> None:
    out = np.zeros((1, 3, 32, 100), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        resize_normalize([_ok()], out)
    with pytest.raises(ValueError, match=r"channel_order.*'bgra'"):
        resize_normalize([_ok()], channel_order="bgra")
    with pytest.raises(ValueError, match="channels"):
        resize_normalize([_ok()], channels=4)
    with pytest.raises(ValueError, match="height"):
        resize_normalize([_ok()], height=0)


@pytest.mark.parametrize(
    ("images", "out", "exc"),
    [
        ([np.zeros((4, 4, 3), np.float32)], np.zeros((1, 3, 32, 100), np.float32), ValueError),
        ([np.zeros((0, 4, 3), np.uint8)], np.zeros((1, 3, 32, 100), np.float32), ValueError),
        ([np.zeros((4, 4, 2), np.uint8)], np.zeros((1, 3, 32, 100), np.float32), ValueError),
        ([np.zeros((4, 4), np.uint8)], np.zeros((2, 3, 32, 100), np.float32), ValueError),
        ([np.zeros((4, 4), np.uint8)], np.zeros((1, 2, 32, 100), np.float32), ValueError),
        ([np.zeros((4, 4), np.uint8)], np.zeros((1, 3, 32, 100), np.float64), ValueError),
        ([np.zeros((4, 4), np.uint8)], np.zeros((1, 3, 32, 200), np.float32)[..., ::2], ValueError),
        ([np.zeros((4, 4), np.uint8)], [0.0], TypeError),
        ([], np.zeros((0, 3, 32, 100), np.float32), ValueError),
        ([None], np.zeros((1, 3, 32, 100), np.float32), TypeError),
        (7, np.zeros((1, 3, 32, 100), np.float32), TypeError),
    ],
)
def test_core_validates_without_crashing(images: object, out: object, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        _core.resize_normalize(images, out)  # type: ignore[arg-type]


def test_core_rejects_unknown_channel_order() -> None:
    with pytest.raises(ValueError, match="channel_order"):
        _core.resize_normalize([_ok()], np.zeros((1, 3, 32, 100), np.float32), "xyz")


@pytest.mark.gpu
def test_cuda_twin_matches_cpu() -> None:
    rng = np.random.default_rng(10)
    images = [_random_image(rng, int(rng.integers(1, 120)), int(rng.integers(1, 500)), c) for c in [None, 1, 3, 4] * 8]
    images.append(_random_image(rng, 50, 80, 3)[::-1, ::2])
    for channels in (3, 1):
        for order in ("bgr", "rgb"):
            cpu, w_cpu = resize_normalize(images, channels=channels, channel_order=order)
            gpu = np.full_like(cpu, np.nan)
            w_gpu = _core.resize_normalize_cuda(images, gpu, order)
            np.testing.assert_array_equal(w_gpu, w_cpu)
            # Same Impl functions, FMA contraction disabled where it matters: bit-identical.
            np.testing.assert_array_equal(gpu, cpu)
