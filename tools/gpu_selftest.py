"""GPU self-test: build the CUDA kernels, check each against its CPU twin, time it, write a JSON report.

Run ``tools/gpu_selftest`` (this file, through the shell wrapper) on any CUDA machine, with or without TensorRT:

1. builds ``starnet_trt._core`` with CUDA for the local GPU (CMake + Ninja, into ``build/gpu_selftest``) and
   imports it from the source tree (no pip install, no network);
2. runs every kernel against its CPU twin on random shapes: outputs are poisoned before each launch and the
   inputs are fresh for each trial; fp32 and fp16 tolerances;
3. times each kernel with CUDA events (median of repeats) beside its PyTorch equivalent, and against the memory
   bandwidth floor (bytes read once + written once over the measured device-to-device copy bandwidth);
4. with TensorRT and the plugin library present, builds the bundled model's engine with and without plugins and
   compares the decoded outputs;
5. prints a table and writes the JSON report (``--report``, default ``gpu_selftest.json``), with the hot loops'
   instruction counts for this GPU's architecture (tools/sass_loops.py, where cuobjdump is found), so a time can be
   read next to the code that produced it.

Exit status 0 when every correctness check passes (timings never fail the run; the targets are printed).
"""

# ruff: noqa: B023  (the timed closures run within their loop iteration, never after it)

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "gpu_selftest"


# ---------------------------------------------------------------------------------------------------- build


def build_extension(jobs: int, trt_root: str | None, arch: str) -> dict[str, Any]:
    """Configure and build _core (and the plugins when TensorRT headers are found) for the local GPU."""
    import pybind11

    started = time.perf_counter()
    configure = [
        "cmake",
        "-S",
        str(ROOT),
        "-B",
        str(BUILD),
        "-G",
        "Ninja",
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DPython_EXECUTABLE={sys.executable}",
        f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
        "-DSKBUILD_PROJECT_NAME=starnet_trt",
        "-DSKBUILD_PROJECT_VERSION=0.0.0",
        "-DSTARNET_CUDA=ON",
        f"-DSTARNET_CUDA_ARCHITECTURES={arch}",
    ]
    if trt_root:
        configure.append(f"-DTensorRT_ROOT={trt_root}")
    for cmd in (configure, ["cmake", "--build", str(BUILD), "-j", str(jobs)]):
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            sys.stderr.write(run.stdout[-4000:] + run.stderr[-4000:])
            raise SystemExit(f"build failed: {' '.join(cmd[:3])}")
    built = sorted(BUILD.glob("_core*.so")) + sorted(BUILD.glob("_core*.pyd"))
    if not built:
        raise SystemExit(f"build produced no _core module in {BUILD}")
    for old in [*(ROOT / "starnet_trt").glob("_core*.so"), *(ROOT / "starnet_trt").glob("_core*.pyd")]:
        old.unlink()
    shutil.copy2(built[0], ROOT / "starnet_trt" / built[0].name)
    plugins = next(iter(BUILD.glob("libstarnet_plugins*")), None)
    return {"seconds": round(time.perf_counter() - started, 1), "plugins": str(plugins) if plugins else None}


# ---------------------------------------------------------------------------------------------------- timing


def cuda_time(torch: Any, fn: Any, repeat: int, warmup: int = 5) -> float:
    """Median milliseconds of ``fn`` on the current stream, CUDA events around each call."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return float(np.median(times))


def graph_time(torch: Any, fn: Any, repeat: int, per_graph: int = 20) -> float:
    """Median GPU milliseconds of one ``fn()``: ``per_graph`` calls captured in one CUDA graph, replayed between
    CUDA events, so the figure is the GPU's time and not Python's launch overhead (a few microseconds per call,
    as long as these kernels). Falls back to back-to-back launches between events if capture fails."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    try:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(per_graph):
                fn()
        return cuda_time(torch, graph.replay, max(5, repeat // per_graph), warmup=2) / per_graph
    except RuntimeError as exc:  # capture unsupported: time a queue of launches instead
        print(f"  (CUDA graph capture failed: {exc}; timing back-to-back launches)", flush=True)

        def many() -> None:
            for _ in range(per_graph):
                fn()

        return cuda_time(torch, many, max(5, repeat // per_graph)) / per_graph


def wall_time(torch: Any, fn: Any, repeat: int, warmup: int = 3) -> float:
    """Median milliseconds of a host-synchronous ``fn`` (perf_counter)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def copy_bandwidth(torch: Any, repeat: int) -> float:
    """Device-to-device copy bandwidth in GB/s, counting bytes read plus bytes written (1 GiB buffers)."""
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = cuda_time(torch, lambda: dst.copy_(src), repeat)
    return 2 * src.numel() / (ms * 1e-3) / 1e9


def same_size_copy_ms(torch: Any, moved_bytes: int, repeat: int) -> float:
    """Milliseconds of a device-to-device copy moving ``moved_bytes`` in all (half read, half written), timed like
    the kernels (``graph_time``). The bandwidth floor uses the 1 GiB copy rate; at a kernel's size (10 MB here)
    launch and ramp-up count too, and this copy is the fastest any kernel moving those bytes can be."""
    src = torch.empty(max(1, moved_bytes // 2), dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    return graph_time(torch, lambda: dst.copy_(src), repeat)


# ---------------------------------------------------------------------------------------------------- checks


class Checks:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, kernel: str, case: str, error: float, tolerance: float, exact: bool = False) -> None:
        ok = bool(error == 0) if exact else bool(error <= tolerance)
        self.rows.append(
            {"kernel": kernel, "case": case, "max_error": float(error), "tolerance": tolerance, "passed": ok}
        )
        mark = "ok  " if ok else "FAIL"
        print(f"  {mark} {kernel:<18} {case:<44} max err {error:.3g} (tol {'exact' if exact else tolerance})")

    @property
    def passed(self) -> bool:
        return all(r["passed"] for r in self.rows)


def _fiducials(rng: np.random.Generator, n: int, f: int, spread: float) -> np.ndarray:
    from starnet_trt.model.tps import initial_fiducials

    return (initial_fiducials(f)[None] + rng.normal(0, spread, (n, f, 2))).astype(np.float32)


def tps_launch(
    core: Any,
    torch: Any,
    image: Any,
    fid: Any,
    out: Any,
    out_hw: tuple[int, int],
    align: bool = True,
    samples_per_block: int = 0,
    table: Any = None,
) -> None:
    """One launch; ``table`` (a float32 [oh*ow, F] CUDA tensor) selects table mode, else rows on the fly."""
    n, c, h, w = image.shape
    core.cuda.tps_grid_sample(
        image.data_ptr(),
        fid.data_ptr(),
        out.data_ptr(),
        n,
        c,
        h,
        w,
        fid.shape[1],
        out_hw[0],
        out_hw[1],
        align,
        "zeros",
        image.dtype == torch.float16,
        fid.dtype == torch.float16,
        torch.cuda.current_stream().cuda_stream,
        samples_per_block,
        0 if table is None else table.data_ptr(),
    )


def check_tps(core: Any, torch: Any, checks: Checks, rng: np.random.Generator, trials: int) -> None:
    # STAR-Net's shape, and one that once showed the on-the-fly rows' FMA contraction (2.3e-5 > 1e-5, H200).
    cases = [(256, 3, 32, 100, 32, 100, 20), (34, 3, 63, 317, 44, 274, 20)]
    for _ in range(trials):
        cases.append(
            (
                int(rng.integers(1, 70)),
                int(rng.choice([1, 3])),
                int(rng.integers(2, 64)),
                int(rng.integers(2, 400)),
                int(rng.integers(1, 48)),
                int(rng.integers(1, 400)),
                int(rng.choice([4, 10, 20, 32])),
            )
        )
    for shape in cases:
        _check_tps_case(core, torch, checks, rng, shape)


def _check_tps_case(core: Any, torch: Any, checks: Checks, rng: np.random.Generator, shape: tuple[int, ...]) -> None:
    from starnet_trt.ops import tps_grid_sample

    n, c, h, w, oh, ow, f = shape
    for img_dt, fid_dt in ((np.float32, np.float32), (np.float16, np.float16), (np.float16, np.float32)):
        image = rng.uniform(-1, 1, (n, c, h, w)).astype(img_dt)
        fid = _fiducials(rng, n, f, float(rng.choice([0.0, 0.1, 0.4]))).astype(fid_dt)
        align = bool(rng.integers(0, 2))
        expected = tps_grid_sample(image, fid, oh, ow, align)
        d_img, d_fid = torch.from_numpy(image).cuda(), torch.from_numpy(fid).cuda()
        tol = 2e-3 if img_dt == np.float16 else 1e-5
        name = f"N{n} C{c} {h}x{w}->{oh}x{ow} F{f} {np.dtype(img_dt).name}/{np.dtype(fid_dt).name}"
        star_net = core.tps_grid_matrix(f, oh, ow)
        other = rng.uniform(-0.6, 0.6, star_net.shape).astype(np.float32)  # table mode takes any matrix
        for mode, table, want in (
            ("", None, expected),
            (" table", star_net, expected),  # the rows the on-the-fly mode computes: the same result
            (" table(random)", other, tps_grid_sample(image, fid, oh, ow, align, table=other)),
        ):
            d_out = torch.full((n, c, oh, ow), float("nan"), dtype=d_img.dtype, device="cuda")  # poisoned
            d_table = None if table is None else torch.from_numpy(table).cuda()
            tps_launch(core, torch, d_img, d_fid, d_out, (oh, ow), align, table=d_table)
            got = d_out.cpu().numpy()
            finite = np.isfinite(got).all()
            error = float(np.nanmax(np.abs(got.astype(np.float64) - want)) if finite else np.inf)
            checks.add("tps_grid_sample", name + mode, error, tol)


def ctc_launch(core: Any, torch: Any, scores: Any, blank: int, outs: tuple[Any, Any, Any], nan_flags: Any | None):
    n, t, c = scores.shape
    indices, lengths, conf = outs
    core.cuda.ctc_greedy_decode(
        scores.data_ptr(),
        scores.dtype == torch.float16,
        n,
        t,
        c,
        blank,
        indices.data_ptr(),
        lengths.data_ptr(),
        conf.data_ptr(),
        0 if nan_flags is None else nan_flags.data_ptr(),
        torch.cuda.current_stream().cuda_stream,
    )


def check_ctc(core: Any, torch: Any, checks: Checks, rng: np.random.Generator, trials: int) -> None:
    from starnet_trt.ops import ctc_greedy_decode

    cases = [(256, 25, 37, 0), (1, 1, 1, 0)]
    for _ in range(trials):
        cases.append((int(rng.integers(1, 300)), int(rng.integers(1, 80)), int(rng.integers(1, 100)), 0))
    for n, t, c, _ in cases:
        for dt in (np.float32, np.float16):
            levels = int(rng.choice([0, 3]))  # 3 levels: many exact ties, the argmax tie rule matters
            raw = rng.integers(0, levels, (n, t, c)) / levels if levels else rng.random((n, t, c))
            scores = raw.astype(dt)
            blank = int(rng.integers(0, c))
            exp_idx, exp_len, exp_conf = ctc_greedy_decode(scores, blank=blank)
            d = torch.from_numpy(scores).cuda()
            outs = (
                torch.full((n, t), 12345, dtype=torch.int32, device="cuda"),
                torch.full((n,), 12345, dtype=torch.int32, device="cuda"),
                torch.full((n,), float("nan"), dtype=torch.float32, device="cuda"),
            )
            flags = torch.full((n,), 7, dtype=torch.int32, device="cuda")
            ctc_launch(core, torch, d, blank, outs, flags)
            idx, length, conf = (o.cpu().numpy() for o in outs)
            mismatch = int((idx != exp_idx).sum() + (length != exp_len).sum() + (flags.cpu().numpy() != 0).sum())
            name = f"N{n} T{t} C{c} blank{blank} {np.dtype(dt).name}{' ties' if levels else ''}"
            checks.add("ctc_greedy_decode", name + " ids", mismatch, 0, exact=True)
            checks.add("ctc_greedy_decode", name + " conf", float(np.abs(conf - exp_conf).max()), 1e-6)
    # Plugin mode (no flag buffer): a NaN sample reports length -1; its neighbours are untouched.
    scores = rng.random((6, 25, 37)).astype(np.float32)
    scores[3, 7, 5] = np.nan
    exp_idx, exp_len, _ = ctc_greedy_decode(np.delete(scores, 3, axis=0))
    d = torch.from_numpy(scores).cuda()
    outs = (
        torch.zeros((6, 25), dtype=torch.int32, device="cuda"),
        torch.zeros(6, dtype=torch.int32, device="cuda"),
        torch.zeros(6, dtype=torch.float32, device="cuda"),
    )
    ctc_launch(core, torch, d, 0, outs, None)
    idx, length, conf = (o.cpu().numpy() for o in outs)
    bad = int(length[3] != -1 or (idx[3] != -1).any() or not np.isnan(conf[3]))
    bad += int((np.delete(idx, 3, 0) != exp_idx).sum() + (np.delete(length, 3) != exp_len).sum())
    checks.add("ctc_greedy_decode", "NaN sample -> length -1, others exact", bad, 0, exact=True)


def _random_images(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    images = []
    for _ in range(n):
        h = int(rng.integers(12, 72))
        w = int(rng.integers(8, 420))
        c = int(rng.choice([1, 3, 3, 3, 4]))
        shape = (h, w) if c == 1 and rng.random() < 0.5 else (h, w, c)
        images.append(rng.integers(0, 256, shape, dtype=np.uint8))
    return images


def pack_images(core: Any, torch: Any, images: list[np.ndarray]) -> tuple[Any, Any, int]:
    offsets, chunks, total = [], [], 0
    for img in images:
        h, w = img.shape[:2]
        c = img.shape[2] if img.ndim == 3 else 1
        offsets.append((total, h, w, c))
        chunks.append(np.ascontiguousarray(img).reshape(-1))
        total += img.size
    packed = torch.from_numpy(np.concatenate(chunks)).cuda()
    descs = torch.from_numpy(core.image_descriptors(offsets)).cuda()
    return packed, descs, total


#: Preprocessing modes as the Recognizer passes them (Preprocess.resize_kwargs): PaddleOCR's, and DTRB's.
RESIZE_MODES = {
    "paddle": {"resize": "keep_ratio_pad_right", "gray": "bt601", "interpolation": "linear"},
    "dtrb": {"resize": "stretch", "gray": "pil", "interpolation": "pil_bicubic"},
    "stretch-linear": {"resize": "stretch", "gray": "bt601", "interpolation": "linear"},
}


def resize_launch(
    core: Any,
    torch: Any,
    packed: Any,
    descs: Any,
    n: int,
    out: Any,
    widths: Any,
    mode: str = "paddle",
    tuning: tuple[int, int, int] = (0, 0, 0),
) -> None:
    """One launch; `tuning` is (bands per image, pixels per thread, source staging), 0 for the launcher's default."""
    core.cuda.resize_normalize(
        packed.data_ptr(),
        descs.data_ptr(),
        n,
        out.data_ptr(),
        out.dtype == torch.float16,
        out.shape[1],
        out.shape[2],
        out.shape[3],
        "bgr",
        widths.data_ptr(),
        torch.cuda.current_stream().cuda_stream,
        **RESIZE_MODES[mode],
        bands_per_image=tuning[0],
        pixels_per_thread=tuning[1],
        source_staging=tuning[2],
    )


#: (bands per image, pixels per thread, source staging) of the bilinear kernel swept by the timings; (0, 0, 0) is
#: the default. Staging 2 copies each band's source rows to shared memory first (csrc/cuda/resizeNormalize.cu).
RESIZE_TUNINGS = [
    (0, 0, 0),
    (0, 1, 0),
    (1, 1, 0),
    (1, 2, 0),
    (2, 1, 0),
    (2, 2, 0),
    (4, 1, 0),
    (4, 2, 0),
    (0, 0, 2),
    (0, 1, 2),
    (1, 1, 2),
    (1, 2, 2),
    (2, 1, 2),
    (2, 2, 2),
]
STAGED = (0, 0, 2)


def tuning_label(tuning: tuple[int, int, int]) -> str:
    """How report rows name a launch tuning of the bilinear kernel."""
    return f"bands={tuning[0]} pixels={tuning[1]}" + (" staged" if tuning[2] == 2 else "")


def check_resize(core: Any, torch: Any, checks: Checks, rng: np.random.Generator, trials: int) -> None:
    from starnet_trt.ops import resize_normalize

    # Every mode on the first trials (N=256 at 32x100 included), then the modes in turn.
    plan = [(t, m) for t in range(trials + 1) for m in (RESIZE_MODES if t == 0 else [list(RESIZE_MODES)[t % 3]])]
    for trial, mode in plan:
        n = 256 if trial == 0 else int(rng.integers(1, 80))
        images = _random_images(rng, n)
        channels = 1 if mode == "dtrb" or trial % 3 == 0 else 3
        out_hw = (32, 100) if trial % 2 == 0 else (48, 320)
        expected, exp_w = resize_normalize(
            images, height=out_hw[0], width=out_hw[1], channels=channels, **RESIZE_MODES[mode]
        )
        packed, descs, _ = pack_images(core, torch, images)
        # The launch tunings the timings sweep, checked too (the bicubic path has none); the staged form on every
        # trial, for its span arithmetic over many shapes (source spans that fit and spans that fall back).
        tunings = RESIZE_TUNINGS if trial == 0 else [RESIZE_TUNINGS[0], STAGED]
        tunings = tunings if mode != "dtrb" else [RESIZE_TUNINGS[0]]
        for (dtype, tol), tuning in itertools.product(((torch.float32, 0.0), (torch.float16, 1e-3)), tunings):
            out = torch.full((n, channels, *out_hw), float("nan"), dtype=dtype, device="cuda")
            widths = torch.full((n,), -5, dtype=torch.int32, device="cuda")
            resize_launch(core, torch, packed, descs, n, out, widths, mode, tuning)
            got = out.float().cpu().numpy()
            error = float(np.abs(got - expected).max()) if np.isfinite(got).all() else float("inf")
            error += float((widths.cpu().numpy() != exp_w).sum())
            name = f"{mode} N{n} mixed sizes -> {channels}x{out_hw[0]}x{out_hw[1]} {str(dtype).split('.')[-1]}"
            if tuning != RESIZE_TUNINGS[0]:
                name += " " + tuning_label(tuning)
            checks.add("resize_normalize", name, error, tol, exact=tol == 0.0)


# ---------------------------------------------------------------------------------------------------- timings


def bandwidth_row(
    kernel: str,
    case: str,
    ours_ms: float,
    baseline: tuple[str, float],
    floor_ms: float,
    copy_ms: float,
    target: str | None,
) -> dict[str, Any]:
    """A timing row of a bandwidth-bound kernel: against its baseline, the bandwidth floor and a same-size copy."""
    return {
        "kernel": kernel,
        "case": case,
        "ours_ms": ours_ms,
        "baseline": baseline[0],
        "baseline_ms": baseline[1],
        "speedup": baseline[1] / ours_ms,
        "floor_ms": floor_ms,
        "of_floor": floor_ms / ours_ms,
        "same_size_copy_ms": copy_ms,
        "of_same_size_copy": copy_ms / ours_ms,
        "target": target,
    }


def tuning_row(torch: Any, what: tuple[str, str], fn: Any, baseline: tuple[str, float], repeat: int) -> dict[str, Any]:
    """Times one non-default launch geometry of a kernel (`what`: kernel, case) and prints it as it goes."""
    ours_ms = graph_time(torch, fn, repeat)
    print(f"  tuning: {what[0]} {what[1]}: {ours_ms * 1e3:.2f} us", flush=True)
    return {
        "kernel": what[0],
        "case": f"{what[1]} (tuning)",
        "ours_ms": ours_ms,
        "baseline": baseline[0],
        "baseline_ms": baseline[1],
        "speedup": baseline[1] / ours_ms,
    }


def time_tps(core: Any, torch: Any, bandwidth: float, repeat: int, n: int = 256) -> list[dict[str, Any]]:
    import torch.nn.functional as F

    from starnet_trt.model.tps import tps_grid_matrix

    rows = []
    rng = np.random.default_rng(11)
    for dtype in (torch.float16, torch.float32):
        image = torch.from_numpy(rng.uniform(-1, 1, (n, 3, 32, 100)).astype(np.float32)).cuda().to(dtype)
        fid = torch.from_numpy(_fiducials(rng, n, 20, 0.1)).cuda().to(dtype)
        out = torch.empty_like(image)
        matrix = torch.from_numpy(tps_grid_matrix(20, 32, 100)).float().cuda().to(dtype)
        table = torch.from_numpy(core.tps_grid_matrix(20, 32, 100)).cuda()

        def ours() -> None:
            tps_launch(core, torch, image, fid, out, (32, 100))

        def ours_table() -> None:
            tps_launch(core, torch, image, fid, out, (32, 100), table=table)

        def reference() -> Any:
            grid = torch.matmul(matrix, fid).reshape(n, 32, 100, 2)
            return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)

        ref_ms = graph_time(torch, reference, repeat)
        moved = 2 * image.numel() * image.element_size() + fid.numel() * fid.element_size()
        name = str(dtype).split(".")[-1]
        for mode, fn in (("on the fly", ours), ("table", ours_table)):
            # Table mode also reads the 256 KB table (at least once): counted in its floor.
            mode_bytes = moved + (table.numel() * table.element_size() if mode == "table" else 0)
            floor_ms = mode_bytes / (bandwidth * 1e9) * 1e3
            copy_ms = same_size_copy_ms(torch, mode_bytes, repeat)
            if dtype == torch.float16:
                for per_block in (13, 26, 52, 96):

                    def tuned(per_block: int = per_block, mode: str = mode) -> None:
                        tps_launch(
                            core,
                            torch,
                            image,
                            fid,
                            out,
                            (32, 100),
                            samples_per_block=per_block,
                            table=table if mode == "table" else None,
                        )

                    rows.append(
                        tuning_row(
                            torch,
                            ("tps_grid_sample", f"N{n} fp16 {mode} samples_per_block={per_block}"),
                            tuned,
                            ("torch matmul grid + F.grid_sample", ref_ms),
                            repeat,
                        )
                    )
            ours_ms = graph_time(torch, fn, repeat)
            rows.append(
                bandwidth_row(
                    "tps_grid_sample",
                    f"N{n} 3x32x100 F20 {name} rows {mode}",
                    ours_ms,
                    ("torch matmul grid + F.grid_sample", ref_ms),
                    floor_ms,
                    copy_ms,
                    ">= 2x baseline and >= 50% of floor (fp16)" if dtype == torch.float16 else None,
                )
            )
    return rows


def time_ctc(core: Any, torch: Any, repeat: int, n: int = 256) -> list[dict[str, Any]]:
    from starnet_trt.ops import ctc_greedy_decode

    rng = np.random.default_rng(12)
    rows = []
    for dtype in (torch.float32, torch.float16):
        probs = torch.from_numpy(rng.random((n, 25, 37)).astype(np.float32)).cuda().to(dtype)
        outs = (
            torch.empty((n, 25), dtype=torch.int32, device="cuda"),
            torch.empty(n, dtype=torch.int32, device="cuda"),
            torch.empty(n, dtype=torch.float32, device="cuda"),
        )
        pinned = [torch.empty(o.shape, dtype=o.dtype, pin_memory=True) for o in outs]

        def ours() -> None:
            ctc_launch(core, torch, probs, 0, outs, None)

        def ours_with_results() -> None:
            ours()
            for src, dst in zip(outs, pinned, strict=True):
                dst.copy_(src, non_blocking=True)
            torch.cuda.current_stream().synchronize()

        def host_decode() -> None:
            ctc_greedy_decode(probs.cpu().numpy())

        def torch_gpu() -> None:
            values, idx = probs.float().max(-1)
            prev = torch.nn.functional.pad(idx[:, :-1], (1, 0), value=-1)
            keep = (idx != 0) & (idx != prev)
            lengths = keep.sum(1)
            conf = (values * keep).sum(1) / lengths.clamp(min=1)
            pos = torch.where(keep, keep.cumsum(1) - 1, torch.full_like(idx, 25))
            packed = torch.full((n, 26), -1, dtype=idx.dtype, device=idx.device).scatter_(1, pos, idx)
            return packed[:, :25], lengths, conf

        kernel_ms = graph_time(torch, ours, repeat)
        e2e_ms = wall_time(torch, ours_with_results, repeat)
        host_ms = wall_time(torch, host_decode, repeat)
        torch_ms = graph_time(torch, torch_gpu, repeat)
        name = f"N{n} T25 C37 {str(dtype).split('.')[-1]}"
        rows.append(
            {
                "kernel": "ctc_greedy_decode",
                "case": name + " (kernel)",
                "ours_ms": kernel_ms,
                "baseline": "copy scores to host + C++ decode",
                "baseline_ms": host_ms,
                "speedup": host_ms / kernel_ms,
                "target": ">= 10x" if dtype == torch.float32 else None,
            }
        )
        rows.append(
            {
                "kernel": "ctc_greedy_decode",
                "case": name + " (kernel + results to host)",
                "ours_ms": e2e_ms,
                "baseline": "copy scores to host + C++ decode",
                "baseline_ms": host_ms,
                "speedup": host_ms / e2e_ms,
            }
        )
        rows.append(
            {
                "kernel": "ctc_greedy_decode",
                "case": name + " (kernel)",
                "ours_ms": kernel_ms,
                "baseline": "torch argmax + collapse on GPU",
                "baseline_ms": torch_ms,
                "speedup": torch_ms / kernel_ms,
            }
        )
    return rows


def time_resize(core: Any, torch: Any, bandwidth: float, repeat: int, n: int = 256) -> list[dict[str, Any]]:
    import torch.nn.functional as F

    rng = np.random.default_rng(13)
    images = [
        rng.integers(0, 256, (int(rng.integers(24, 64)), int(rng.integers(40, 400)), 3), np.uint8) for _ in range(n)
    ]
    packed, descs, total = pack_images(core, torch, images)
    rows = []
    gpu_images = [torch.from_numpy(img).cuda() for img in images]
    for dtype in (torch.float32, torch.float16):
        out = torch.empty((n, 3, 32, 100), dtype=dtype, device="cuda")
        widths = torch.empty(n, dtype=torch.int32, device="cuda")

        def ours() -> None:
            resize_launch(core, torch, packed, descs, n, out, widths)

        def reference() -> Any:
            batch = torch.zeros((n, 3, 32, 100), dtype=dtype, device="cuda")
            for i, img in enumerate(gpu_images):
                h, w = img.shape[:2]
                rw = min(100, int(np.ceil(32 * w / h)))
                x = img.permute(2, 0, 1)[None].to(dtype)
                x = F.interpolate(x, size=(32, rw), mode="bilinear", align_corners=False)
                batch[i, :, :, :rw] = (x[0] / 255 - 0.5) / 0.5
            return batch

        ours_ms = graph_time(torch, ours, repeat)
        ref_ms = graph_time(torch, reference, 20, per_graph=2)
        if dtype == torch.float32:
            for tuning in RESIZE_TUNINGS[1:]:

                def tuned(tuning: tuple[int, int, int] = tuning) -> None:
                    resize_launch(core, torch, packed, descs, n, out, widths, tuning=tuning)

                label = tuning_label(tuning)
                rows.append(
                    tuning_row(
                        torch,
                        ("resize_normalize", f"N{n} mixed HxWx3 uint8 -> 3x32x100 float32 {label}"),
                        tuned,
                        ("default launch (bands=0 pixels=0)", ours_ms),
                        repeat,
                    )
                )
        moved = total + out.numel() * out.element_size()
        floor_ms = moved / (bandwidth * 1e9) * 1e3
        copy_ms = same_size_copy_ms(torch, moved, repeat)
        rows.append(
            bandwidth_row(
                "resize_normalize",
                f"N{n} mixed HxWx3 uint8 -> 3x32x100 {str(dtype).split('.')[-1]}",
                ours_ms,
                ("torch per-image interpolate + normalize + pad", ref_ms),
                floor_ms,
                copy_ms,
                ">= 50% of floor" if dtype == torch.float32 else None,
            )
        )
    # DTRB's preprocessing: PIL gray, then PIL's antialiased bicubic stretch to 1x32x100.
    out = torch.empty((n, 1, 32, 100), dtype=torch.float32, device="cuda")
    widths = torch.empty(n, dtype=torch.int32, device="cuda")
    weights = torch.tensor([0.299, 0.587, 0.114][::-1], device="cuda").view(3, 1, 1)

    def dtrb() -> None:
        resize_launch(core, torch, packed, descs, n, out, widths, "dtrb")

    def dtrb_reference() -> Any:
        batch = torch.empty((n, 1, 32, 100), device="cuda")
        for i, img in enumerate(gpu_images):
            gray = (img.permute(2, 0, 1).float() * weights).sum(0)[None, None]
            x = F.interpolate(gray, size=(32, 100), mode="bicubic", antialias=True, align_corners=False)
            batch[i] = (x[0] / 255 - 0.5) / 0.5
        return batch

    ours_ms = graph_time(torch, dtrb, repeat)
    ref_ms = graph_time(torch, dtrb_reference, 20, per_graph=2)
    floor_ms = (total + out.numel() * 4) / (bandwidth * 1e9) * 1e3
    rows.append(
        {
            "kernel": "resize_normalize",
            "case": f"N{n} mixed HxWx3 uint8 -> 1x32x100 float32, DTRB (PIL gray + antialiased bicubic stretch)",
            "ours_ms": ours_ms,
            "baseline": "torch per-image gray + interpolate(bicubic, antialias) + normalize",
            "baseline_ms": ref_ms,
            "speedup": ref_ms / ours_ms,
            "floor_ms": floor_ms,
            "of_floor": floor_ms / ours_ms,
            "target": None,
        }
    )
    return rows


# ---------------------------------------------------------------------------------------------------- TensorRT


def check_tensorrt(plugins: str | None, checks: Checks) -> dict[str, Any]:
    """Engines with and without plugins for the bundled model: decoded outputs must agree."""
    if importlib.util.find_spec("tensorrt") is None:
        return {"skipped": "tensorrt is not installed"}
    if plugins is None:
        return {"skipped": "TensorRT headers not found at build time (set TensorRT_ROOT): no plugin library"}
    import tensorrt as trt
    import torch

    from starnet_trt import builder
    from starnet_trt.ops import ctc_greedy_decode
    from starnet_trt.recognizer import DEFAULT_MODEL_PATH

    os.environ[builder.PLUGIN_LIBRARY_ENV] = plugins
    out_dir = BUILD / "engines"
    results = {}
    x = np.random.default_rng(14).uniform(-1, 1, (16, 3, 32, 100)).astype(np.float32)
    logger = trt.Logger(trt.Logger.WARNING)
    trt.get_plugin_registry().load_library(plugins)
    modes = {"none": {"plugins": "none"}, "table": {"tps_rows": "table"}, "on-the-fly": {"tps_rows": "on-the-fly"}}
    for mode, options in modes.items():
        built = builder.build_engine(
            DEFAULT_MODEL_PATH, out_dir / f"selftest.{mode}.engine", batch="1:16:32", **options
        )
        engine = trt.Runtime(logger).deserialize_cuda_engine(built.engine_path.read_bytes())
        context = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        buffers = {}
        for name in names:
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                context.set_input_shape(name, x.shape)
                buffers[name] = torch.from_numpy(x).cuda()
        for name in names:
            if engine.get_tensor_mode(name) == trt.TensorIOMode.OUTPUT:
                shape = tuple(context.get_tensor_shape(name))
                dtype = torch.int32 if engine.get_tensor_dtype(name) == trt.int32 else torch.float32
                buffers[name] = torch.empty(shape, dtype=dtype, device="cuda")
        for name, tensor in buffers.items():
            context.set_tensor_address(name, tensor.data_ptr())
        context.execute_async_v3(torch.cuda.current_stream().cuda_stream)
        torch.cuda.synchronize()
        results[mode] = {k: v.cpu().numpy() for k, v in buffers.items()}
    idx, lengths, _ = ctc_greedy_decode(results["none"]["probs"])
    mismatches = {}
    for mode in ("table", "on-the-fly"):
        plug = results[mode]
        mismatches[mode] = int((plug["indices"] != idx).sum() + (plug["lengths"] != lengths).sum())
        checks.add(
            "tensorrt engine",
            f"plugins (TPS rows {mode}) vs native layers, bundled model, N16",
            mismatches[mode],
            0,
            exact=True,
        )
    return {"trt_version": trt.__version__, "mismatches": mismatches}


# ---------------------------------------------------------------------------------------------------- machine code

#: The kernels whose loop lengths the report records (tools/sass_loops.py): the timed ones.
SASS_SOURCES = ("tpsGridSample.cu", "resizeNormalize.cu", "ctcGreedyDecode.cu")


def sass_figures(arch: str) -> dict[str, Any]:
    """Registers, spills and the instructions of each storing loop of the timed kernels, compiled for `arch`."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import sass_loops

    if sass_loops.nvcc() is None or sass_loops.cuobjdump() is None:
        return {"skipped": "nvcc or cuobjdump not found (pip install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm)"}
    kernels: dict[str, Any] = {}
    try:
        for source in SASS_SOURCES:
            for k in sass_loops.analyze(ROOT / "csrc" / "cuda" / source, arch):
                kernels[k.name] = {
                    "registers": k.registers,
                    "spill_bytes": k.spill_bytes,
                    "loops": [[loop.instructions, loop.ldg, loop.lds, loop.stg] for loop in k.loops],
                }
    except (RuntimeError, subprocess.SubprocessError, OSError) as error:
        return {"skipped": f"{type(error).__name__}: {error}"[:500]}
    return {"arch": arch, "loop_fields": ["instructions", "LDG", "LDS", "STG"], "kernels": kernels}


# ---------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", default="gpu_selftest.json", help="JSON report path")
    parser.add_argument("--trials", type=int, default=6, help="random shapes per kernel and dtype")
    parser.add_argument("--repeat", type=int, default=400, help="timed launches per measurement")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--tensorrt-root", default=os.environ.get("TensorRT_ROOT"))
    parser.add_argument("--arch", default="native", help="CUDA architectures to build (default: this GPU's)")
    parser.add_argument("--no-build", action="store_true", help="use the _core already importable")
    parser.add_argument("--build-only", action="store_true", help="build and stop (e.g. before profiling)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    report: dict[str, Any] = {"host": platform.node(), "python": sys.version.split()[0]}
    if not args.no_build:
        print("building starnet_trt._core with CUDA for this GPU ...", flush=True)
        report["build"] = build_extension(args.jobs, args.tensorrt_root, args.arch)
        print(f"  built in {report['build']['seconds']} s", flush=True)
        if args.build_only:
            return 0
    sys.path.insert(0, str(ROOT))
    import torch

    from starnet_trt import _core

    if not _core.has_cuda or _core.cuda_device_count() == 0 or not torch.cuda.is_available():
        print("no CUDA device (or a _core without CUDA): nothing to test", file=sys.stderr)
        return 2
    props = torch.cuda.get_device_properties(0)
    report["device"] = {
        "name": props.name,
        "capability": f"{props.major}.{props.minor}",
        "multiprocessors": props.multi_processor_count,
        "memory_gib": round(props.total_memory / 2**30, 1),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    print(f"device: {props.name} (sm_{props.major}{props.minor}), torch {torch.__version__}", flush=True)
    report["sass"] = sass_figures(f"sm_{props.major}{props.minor}")
    if "skipped" in report["sass"]:
        print(f"machine code: skipped ({report['sass']['skipped']})", flush=True)

    checks = Checks()
    rng = np.random.default_rng(int(time.time()))
    report["seed"] = int(rng.integers(0, 2**31))
    rng = np.random.default_rng(report["seed"])
    print("correctness against the CPU twins:", flush=True)
    check_tps(_core, torch, checks, rng, args.trials)
    check_ctc(_core, torch, checks, rng, args.trials)
    check_resize(_core, torch, checks, rng, args.trials)
    report["tensorrt"] = check_tensorrt(report.get("build", {}).get("plugins"), checks)
    if importlib.util.find_spec("tensorrt") is not None and not args.no_build and args.tensorrt_root:
        # The C++ TensorRT predictor (starnet_trt._trt, built above with the headers): tools/predictor_selftest.py.
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import predictor_selftest

        report["predictor"] = predictor_selftest.run(BUILD, fake=False)
        checks.add("predictor", "tools/predictor_selftest.py", 0 if report["predictor"]["passed"] else 1, 0, True)
    report["checks"] = checks.rows

    print("timings (CUDA events, median):", flush=True)
    bandwidth = copy_bandwidth(torch, 20)
    report["copy_bandwidth_gbs"] = bandwidth
    print(f"  device-to-device copy: {bandwidth:.0f} GB/s (read + write)")
    timings = time_tps(_core, torch, bandwidth, args.repeat)
    timings += time_ctc(_core, torch, args.repeat)
    timings += time_resize(_core, torch, bandwidth, args.repeat)
    report["timings"] = timings
    print(
        f"  {'kernel':<18} {'case':<52} {'ours ms':>9} {'base ms':>9} {'speedup':>8} {'of floor':>8} "
        f"{'of copy':>8}  baseline"
    )
    for t in timings:
        floor = f"{t['of_floor'] * 100:7.0f}%" if "of_floor" in t else " " * 8
        same = f"{t['of_same_size_copy'] * 100:7.0f}%" if "of_same_size_copy" in t else " " * 8
        print(
            f"  {t['kernel']:<18} {t['case']:<52} {t['ours_ms']:9.4f} {t['baseline_ms']:9.4f} "
            f"{t['speedup']:7.1f}x {floor} {same}  {t['baseline']}"
        )
    print("  of floor: the bytes over the 1 GiB copy rate; of copy: a device copy of the same bytes, timed alike")
    report["passed"] = checks.passed
    report["seconds"] = round(time.perf_counter() - started, 1)
    Path(args.report).write_text(json.dumps(report, indent=2))
    failed = [r for r in checks.rows if not r["passed"]]
    print(f"{len(checks.rows) - len(failed)}/{len(checks.rows)} checks passed; report: {args.report}")
    print(f"TensorRT: {report['tensorrt']}")
    return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
