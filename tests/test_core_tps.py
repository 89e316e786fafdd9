"""tps_grid_sample (fused TPS sampler, CPU twin of the CUDA kernel) against PyTorch and a float64 NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from starnet_trt import _core
from starnet_trt.model.tps import TPS, initial_fiducials, tps_grid_matrix
from starnet_trt.ops import tps_grid_sample


def _reference64(image: np.ndarray, fiducials: np.ndarray, out_h: int, out_w: int, align: bool, padding: str):
    """Float64 PyTorch: the STAR-Net grid A @ C' in double, then grid_sample."""
    n, f, _ = fiducials.shape
    a = torch.from_numpy(tps_grid_matrix(f, out_h, out_w))
    grid = torch.matmul(a, torch.from_numpy(fiducials.astype(np.float64))).reshape(n, out_h, out_w, 2)
    x = torch.from_numpy(image.astype(np.float64))
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=align).numpy()


def _numpy_bilinear(image: np.ndarray, grid: np.ndarray, align: bool) -> np.ndarray:
    """ONNX GridSample (bilinear, zeros) written from the spec with plain loops, independent of PyTorch."""
    n, c, h, w = image.shape
    out = np.zeros((n, c, *grid.shape[1:3]))
    for b in range(n):
        for i in range(grid.shape[1]):
            for j in range(grid.shape[2]):
                gx, gy = grid[b, i, j]
                x = (gx + 1) * (w - 1) / 2 if align else ((gx + 1) * w - 1) / 2
                y = (gy + 1) * (h - 1) / 2 if align else ((gy + 1) * h - 1) / 2
                x0, y0 = int(np.floor(x)), int(np.floor(y))
                for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
                    for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
                        if 0 <= xx < w and 0 <= yy < h:
                            out[b, :, i, j] += wx * wy * image[b, :, yy, xx]
    return out


def _smooth_images(rng: np.random.Generator, n: int, c: int, h: int, w: int) -> np.ndarray:
    coarse = torch.from_numpy(rng.uniform(-1, 1, (n, c, max(2, h // 4), max(2, w // 4))).astype(np.float32))
    return F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False).numpy()


def _fiducials(rng: np.random.Generator, n: int, f: int, spread: float = 0.15) -> np.ndarray:
    return (initial_fiducials(f)[None] + rng.normal(0, spread, (n, f, 2))).astype(np.float32)


def test_matrix_is_the_reference_constant_rounded_to_float32():
    for f, h, w in [(20, 32, 100), (20, 32, 320), (4, 3, 5), (32, 16, 64)]:
        ours = _core.tps_grid_matrix(f, h, w)
        exact = tps_grid_matrix(f, h, w)
        assert ours.shape == (h * w, f) and ours.dtype == np.float32
        # Same as the exported float32 constant up to one rounding step of the float64 row.
        np.testing.assert_allclose(ours, exact.astype(np.float32), atol=2e-7, rtol=0)


def test_matches_the_reference_model_tps_within_1e5():
    """The plugin contract: the PyTorch model's own TPS (fp32 constant-matrix grid + grid_sample)."""
    rng = np.random.default_rng(0)
    tps = TPS(3, 20, "small", (32, 100)).eval()
    image = _smooth_images(rng, 16, 3, 32, 100)
    fid = _fiducials(rng, 16, 20)
    with torch.no_grad():
        ref = F.grid_sample(
            torch.from_numpy(image),
            tps.grid(torch.from_numpy(fid)),
            mode="bilinear",
            padding_mode="zeros",
            align_corners=True,
        ).numpy()
    got = tps_grid_sample(image, fid, 32, 100)
    assert np.abs(ref - image).max() > 0.1, "the fiducials must actually move pixels"
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)


def test_independent_numpy_reference():
    rng = np.random.default_rng(1)
    image = rng.uniform(-1, 1, (2, 2, 7, 11))
    fid = _fiducials(rng, 2, 6, 0.3)
    grid = (tps_grid_matrix(6, 5, 9) @ fid.astype(np.float64)).reshape(2, 5, 9, 2)
    for align in (True, False):
        expected = _numpy_bilinear(image, grid, align)
        got = tps_grid_sample(image.astype(np.float32), fid, 5, 9, align)
        np.testing.assert_allclose(got, expected, atol=2e-5, rtol=0)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 3),
    c=st.integers(1, 4),
    h=st.integers(1, 24),
    w=st.integers(1, 40),
    f=st.sampled_from([4, 6, 20, 32]),
    out_h=st.integers(1, 20),
    out_w=st.integers(1, 48),
    align=st.booleans(),
    padding=st.sampled_from(["zeros", "border"]),
    spread=st.sampled_from([0.0, 0.1, 0.6]),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_shapes_against_float64_pytorch(n, c, h, w, f, out_h, out_w, align, padding, spread, seed):
    rng = np.random.default_rng(seed)
    image = rng.uniform(-1, 1, (n, c, h, w)).astype(np.float32)
    fid = _fiducials(rng, n, f, spread)
    got = tps_grid_sample(image, fid, out_h, out_w, align, padding)
    assert got.shape == (n, c, out_h, out_w) and got.dtype == np.float32
    if n:
        expected = _reference64(image, fid, out_h, out_w, align, padding)
        # float32 grid (rel. ~1e-7) times the pixel scale and the steepest noise gradient (2 per pixel).
        tol = 4e-6 * max(h, w) + 1e-5
        np.testing.assert_allclose(got, expected, atol=tol, rtol=0)


@pytest.mark.parametrize("image_dtype", [np.float32, np.float16])
@pytest.mark.parametrize("fid_dtype", [np.float32, np.float16])
def test_half_precision_storage(image_dtype, fid_dtype):
    rng = np.random.default_rng(2)
    image = _smooth_images(rng, 4, 3, 32, 100)
    fid = _fiducials(rng, 4, 20)
    expected = _reference64(image.astype(image_dtype), fid.astype(fid_dtype), 32, 100, True, "zeros")
    got = tps_grid_sample(image.astype(image_dtype), fid.astype(fid_dtype), 32, 100)
    assert got.dtype == image_dtype
    tol = 2e-3 if image_dtype == np.float16 else 3e-5  # vs float64; the fp32 model itself is ~1e-5 off
    np.testing.assert_allclose(got.astype(np.float64), expected, atol=tol, rtol=0)


def test_strided_inputs_and_threads_agree():
    rng = np.random.default_rng(3)
    image = rng.uniform(-1, 1, (5, 3, 32, 100)).astype(np.float32)
    fid = _fiducials(rng, 5, 20)
    base = tps_grid_sample(image, fid, 32, 100, num_threads=1)
    wide = np.zeros((5, 3, 32, 200), np.float32)
    wide[..., ::2] = image
    np.testing.assert_array_equal(tps_grid_sample(wide[..., ::2], fid, 32, 100, num_threads=3), base)
    np.testing.assert_array_equal(tps_grid_sample(image, np.asfortranarray(fid), 32, 100), base)


def test_non_finite_fiducials_sample_zeros_without_touching_other_samples():
    rng = np.random.default_rng(4)
    image = rng.uniform(-1, 1, (3, 3, 32, 100)).astype(np.float32)
    fid = _fiducials(rng, 3, 20)
    clean = tps_grid_sample(image, fid, 32, 100)
    bad = fid.copy()
    bad[1, 3] = np.nan
    bad[1, 7] = np.inf
    bad[2] *= 1e30
    got = tps_grid_sample(image, bad, 32, 100)
    np.testing.assert_array_equal(got[0], clean[0])
    assert np.isfinite(got).all() and not got[1].any()


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"fiducials": np.zeros((2, 19, 2), np.float32)}, ValueError, "even number"),
        ({"fiducials": np.zeros((2, 34, 2), np.float32)}, ValueError, "even number"),
        ({"fiducials": np.zeros((3, 20, 2), np.float32)}, ValueError, r"expected shape \(2, F, 2\)"),
        ({"fiducials": np.zeros((2, 20, 3), np.float32)}, ValueError, "fiducials: expected shape"),
        ({"fiducials": np.zeros((2, 20, 2), np.int32)}, ValueError, "fiducials: expected float32 or float16"),
        ({"image": np.zeros((2, 3, 32, 100), np.float64)}, ValueError, "image: expected float32 or float16"),
        ({"image": np.zeros((2, 32, 100), np.float32)}, ValueError, r"image: expected shape \(N, C, H, W\)"),
        ({"image": np.zeros((2, 0, 32, 100), np.float32)}, ValueError, "non-empty"),
        ({"image": [[1.0]]}, TypeError, "image: expected a numpy array"),
        ({"out_height": 0}, ValueError, "out_height"),
        ({"out_width": -3}, ValueError, "out_height/out_width"),
        ({"out_width": 2.5}, TypeError, "out_width: expected an int"),
        ({"padding_mode": "reflection"}, ValueError, "padding_mode: expected 'zeros' or 'border'"),
        ({"table": np.zeros((3200, 20), np.float64)}, ValueError, "table: expected float32"),
        ({"table": np.zeros((3200, 18), np.float32)}, ValueError, r"table: expected shape \(3200, 20\)"),
        ({"table": np.zeros((100, 32, 20), np.float32)}, ValueError, r"\(out_height \* out_width, F\)"),
        ({"table": [[0.0] * 20] * 3200}, TypeError, "table: expected a numpy array"),
    ],
)
def test_bad_input_raises_a_clear_error(kwargs, exc, match):
    args = {
        "image": np.zeros((2, 3, 32, 100), np.float32),
        "fiducials": np.zeros((2, 20, 2), np.float32),
        "out_height": 32,
        "out_width": 100,
    }
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        tps_grid_sample(**args)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_table_mode_with_the_star_net_matrix_is_bit_identical(dtype):
    # The plugin's table mode reads the rows the on-the-fly mode computes; with STAR-Net's matrix both agree exactly.
    rng = np.random.default_rng(11)
    image = rng.uniform(-1, 1, (5, 3, 32, 100)).astype(dtype)
    fid = _fiducials(rng, 5, 20).astype(dtype)
    table = _core.tps_grid_matrix(20, 32, 100)
    np.testing.assert_array_equal(
        tps_grid_sample(image, fid, 32, 100, table=table), tps_grid_sample(image, fid, 32, 100)
    )


def test_table_mode_samples_any_matrix_like_matmul_then_grid_sample():
    # Table mode is MatMul(A, fiducials) -> Reshape -> GridSample for any A: check an arbitrary one (and a
    # non-contiguous view of it) against the float64 loop reference.
    rng = np.random.default_rng(12)
    image = rng.uniform(-1, 1, (2, 2, 7, 11))
    fid = _fiducials(rng, 2, 6, 0.3)
    table = rng.uniform(-0.6, 0.6, (6, 5 * 9)).astype(np.float32).T  # Fortran order: made contiguous inside
    grid = (table.astype(np.float64) @ fid.astype(np.float64)).reshape(2, 5, 9, 2)
    for align in (True, False):
        expected = _numpy_bilinear(image, grid, align)
        got = tps_grid_sample(image.astype(np.float32), fid, 5, 9, align, table=table)
        np.testing.assert_allclose(got, expected, atol=2e-5, rtol=0)
    # and it is not STAR-Net's TPS: the default matrix gives a different result
    assert not np.allclose(
        tps_grid_sample(image.astype(np.float32), fid, 5, 9, table=table),
        tps_grid_sample(image.astype(np.float32), fid, 5, 9),
        atol=1e-3,
    )


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("table", [None, "star-net", "random"])
def test_cuda_twin_matches_cpu(dtype, table):
    """Rows on the fly, and table mode with STAR-Net's matrix and with an arbitrary one."""
    rng = np.random.default_rng(5)
    for n, c, h, w, oh, ow in [
        (256, 3, 32, 100, 32, 100),
        (7, 1, 40, 90, 32, 320),
        (1, 3, 5, 5, 3, 2),
        (3, 2, 9, 13, 5, 7),
    ]:
        image = rng.uniform(-1, 1, (n, c, h, w)).astype(dtype)
        fid = _fiducials(rng, n, 20).astype(dtype)
        rows = {
            None: None,
            "star-net": _core.tps_grid_matrix(20, oh, ow),
            "random": rng.uniform(-0.6, 0.6, (oh * ow, 20)).astype(np.float32),
        }[table]
        cpu = tps_grid_sample(image, fid, oh, ow, table=rows)
        gpu = _core.tps_grid_sample_cuda(image, fid, oh, ow, table=rows)
        tol = 2e-3 if dtype == np.float16 else 1e-5
        np.testing.assert_allclose(gpu.astype(np.float32), cpu.astype(np.float32), atol=tol, rtol=0)
