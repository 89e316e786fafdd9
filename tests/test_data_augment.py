"""Tests of starnet_trt.data.augment."""

from __future__ import annotations

import numpy as np
import pytest

from starnet_trt.data import augment as aug


def _img(h: int = 40, w: int = 120) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.full((h, w, 3), 200, np.uint8)
    img[h // 4 : 3 * h // 4, w // 8 : 7 * w // 8] = rng.integers(0, 80, (3 * h // 4 - h // 4, 7 * w // 8 - w // 8, 3))
    return img


def test_deterministic_given_generator_seed() -> None:
    img = _img()
    for seed in range(20):
        a = aug.augment(img, np.random.default_rng(seed))
        b = aug.augment(img, np.random.default_rng(seed))
        assert np.array_equal(a, b)


def test_output_is_uint8_bgr_and_input_untouched() -> None:
    img = _img()
    before = img.copy()
    changed = 0
    for seed in range(30):
        out = aug.augment(img, np.random.default_rng(seed))
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        assert out.shape[0] >= 4 and out.shape[1] >= 4
        # Light: size changes only by crop jitter (a few % of the height per side).
        assert abs(out.shape[0] - img.shape[0]) <= 0.2 * img.shape[0] + 1
        changed += not np.array_equal(out, img)
    assert np.array_equal(img, before)
    assert changed > 20


@pytest.mark.parametrize("shape", [(8, 8), (32, 100), (5, 300, 3), (64, 20, 4)])
def test_odd_shapes_and_channels(shape: tuple[int, ...]) -> None:
    img = np.random.default_rng(1).integers(0, 255, shape, dtype=np.uint8)
    for seed in range(10):
        out = aug.augment(img, np.random.default_rng(seed))
        assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8


def test_rejects_float_images() -> None:
    with pytest.raises(TypeError):
        aug.augment(np.zeros((10, 10, 3), np.float32), np.random.default_rng(0))


def test_strength_zero_changes_geometry_little() -> None:
    img = _img()
    out = aug.augment(img, np.random.default_rng(3), strength=0.0)
    assert out.shape == img.shape


def test_geometric_primitives_keep_shape() -> None:
    img = _img()
    mask = np.ones(img.shape[:2], np.float32)
    rng = np.random.default_rng(0)
    for arrs in (
        aug.warp_affine([img, mask], 10.0, 0.2, [False, True]),
        aug.warp_perspective([img, mask], rng, 0.3, None, [False, True]),
        aug.warp_curve([img, mask], rng, 5.0, [False, True]),
    ):
        assert arrs[0].shape == img.shape and arrs[0].dtype == np.uint8
        assert arrs[1].shape == mask.shape


def test_rotation_reflects_image_border_but_zeroes_mask() -> None:
    img = _img()  # background 200 near the corners
    mask = np.ones(img.shape[:2], np.float32)
    out, m = aug.warp_affine([img, mask], 15.0, 0.0, [False, True])
    assert m[0, 0] == 0.0 and m[-1, -1] == 0.0  # mask: nothing outside the source
    assert out[0, 0].min() > 100 and out[-1, -1].min() > 100  # image: no black corners
