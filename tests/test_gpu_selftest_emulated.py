"""tools/gpu_selftest's checks and timing code, run on the CPU against an emulation of the raw CUDA launchers.

A GPU is lent to this project only now and then, for minutes; a Python slip in the self-test would waste one.
Here every check and timing function of the self-test runs end to end with ``_core.cuda`` replaced by launchers
that compute with the CPU twins through the raw pointers they are given (as the kernels do), and ``torch.cuda``
by host stand-ins. The emulated launchers follow the documented kernel contracts (csrc/cuda/*.h), so the self-test
must report every check passed; a launcher that writes nothing must make its checks fail (the poisoned outputs
are caught). Timings from this run mean nothing and are not looked at.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from starnet_trt import _core, ops  # noqa: E402

SELFTEST = Path(__file__).resolve().parents[1] / "tools" / "gpu_selftest.py"

#: ImageDesc (csrc/core/imageDesc.h) as image_descriptors packs it.
IMAGE_DESC = np.dtype(
    [
        ("data", "<u8"),
        ("offset", "<i8"),
        ("height", "<i4"),
        ("width", "<i4"),
        ("channels", "<i4"),
        ("pad", "<i4"),
        ("stride_y", "<i8"),
        ("stride_x", "<i8"),
        ("stride_c", "<i8"),
    ]
)


def _view(address: int, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A writable numpy view of ``shape`` elements at a raw host address (a CPU tensor's data_ptr())."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape)) if shape else 1
    buffer = (ctypes.c_byte * (count * dtype.itemsize)).from_address(address)
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


class EmulatedLaunchers:
    """``_core.cuda`` with the CPU twins behind the same raw signatures (pointers are host addresses here)."""

    def __init__(self, write: bool = True) -> None:
        self.write = write
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def tps_grid_sample(
        self,
        image: int,
        fiducials: int,
        out: int,
        batch: int,
        channels: int,
        in_height: int,
        in_width: int,
        num_fiducials: int,
        out_height: int,
        out_width: int,
        align_corners: bool,
        padding_mode: str,
        image_half: bool,
        fiducials_half: bool,
        stream: int,
        samples_per_block: int = 0,
        table: int = 0,
    ) -> None:
        self._count("tps_grid_sample" + (" table" if table else ""))
        if not self.write or batch == 0:
            return
        image_type = np.float16 if image_half else np.float32
        img = _view(image, image_type, (batch, channels, in_height, in_width))
        fid = _view(fiducials, np.float16 if fiducials_half else np.float32, (batch, num_fiducials, 2))
        rows = _view(table, np.float32, (out_height * out_width, num_fiducials)) if table else None
        result = ops.tps_grid_sample(img, fid, out_height, out_width, align_corners, padding_mode, table=rows)
        _view(out, image_type, (batch, channels, out_height, out_width))[...] = result

    def ctc_greedy_decode(
        self,
        scores: int,
        is_half: bool,
        batch: int,
        steps: int,
        classes: int,
        blank: int,
        indices: int,
        lengths: int,
        confidences: int,
        nan_flags: int,
        stream: int,
    ) -> None:
        self._count("ctc_greedy_decode")
        if not self.write:
            return
        s = _view(scores, np.float16 if is_half else np.float32, (batch, steps, classes))
        idx = _view(indices, np.int32, (batch, steps))
        length = _view(lengths, np.int32, (batch,))
        conf = _view(confidences, np.float32, (batch,))
        flags = _view(nan_flags, np.int32, (batch,)) if nan_flags else None
        nan = np.isnan(s.astype(np.float32)).any(axis=(1, 2))
        if (~nan).any():
            i, n, c = ops.ctc_greedy_decode(np.ascontiguousarray(s[~nan]), blank=blank)
            idx[~nan], length[~nan], conf[~nan] = i, n, c
        if flags is not None:  # flag mode: the flag says NaN, the sample's other outputs are unspecified
            flags[...] = nan
        else:  # plugin mode: a NaN sample reads length -1, indices -1, confidence NaN
            idx[nan], length[nan], conf[nan] = -1, -1, np.nan

    def resize_normalize(
        self,
        images: int,
        descs: int,
        batch: int,
        out: int,
        out_half: bool,
        out_channels: int,
        out_height: int,
        out_width: int,
        channel_order: str,
        widths: int,
        stream: int,
        resize: str = "keep_ratio_pad_right",
        gray: str = "bt601",
        interpolation: str = "linear",
        bands_per_image: int = 0,
        pixels_per_thread: int = 0,
        source_staging: int = 0,
    ) -> None:
        self._count("resize_normalize")
        if bands_per_image < 0 or pixels_per_thread not in (0, 1, 2) or source_staging not in (0, 1, 2):
            raise RuntimeError("launchResizeNormalize: invalid argument")  # the launcher's cudaErrorInvalidValue
        if not self.write:
            return
        records = _view(descs, IMAGE_DESC, (batch,))
        pictures = []
        for d in records:
            size = int(d["offset"] + (d["height"] - 1) * d["stride_y"] + (d["width"] - 1) * d["stride_x"])
            size += int((d["channels"] - 1) * d["stride_c"]) + 1
            flat = _view(images, np.uint8, (size,))
            shape = (int(d["height"]), int(d["width"]), int(d["channels"]))
            strides = (int(d["stride_y"]), int(d["stride_x"]), int(d["stride_c"]))
            pictures.append(np.lib.stride_tricks.as_strided(flat[int(d["offset"]) :], shape, strides).copy())
        result, fitted = ops.resize_normalize(
            pictures,
            height=out_height,
            width=out_width,
            channels=out_channels,
            channel_order=channel_order,
            resize=resize,
            gray=gray,
            interpolation=interpolation,
        )
        _view(out, np.float16 if out_half else np.float32, (batch, out_channels, out_height, out_width))[...] = result
        _view(widths, np.int32, (batch,))[...] = fitted


class _Event:
    def __init__(self, enable_timing: bool = False) -> None:
        self.at = 0.0

    def record(self) -> None:
        self.at = time.perf_counter()

    def synchronize(self) -> None:
        pass

    def elapsed_time(self, end: _Event) -> float:
        return (end.at - self.at) * 1e3


def _stream() -> SimpleNamespace:
    return SimpleNamespace(cuda_stream=0, wait_stream=lambda other: None, synchronize=lambda: None)


class HostCuda:
    """The parts of ``torch.cuda`` the self-test uses, on the host (a 'graph' runs its calls at capture)."""

    Event = _Event

    class CUDAGraph:
        def replay(self) -> None:
            pass

    @staticmethod
    def Stream() -> SimpleNamespace:  # torch's name
        return _stream()

    @staticmethod
    def current_stream() -> SimpleNamespace:
        return _stream()

    @staticmethod
    def stream(_: Any) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    @staticmethod
    def graph(_: Any) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    @staticmethod
    def synchronize() -> None:
        pass


class HostTorch:
    """``torch`` with ``device="cuda"`` meaning the host (pinned memory too) and ``torch.cuda`` replaced by
    :class:`HostCuda`."""

    cuda = HostCuda

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)

    @staticmethod
    def _host(factory: Any) -> Any:
        def make(*args: Any, device: Any = None, pin_memory: bool = False, **kwargs: Any) -> Any:
            return factory(*args, **kwargs)

        return make

    def __init__(self) -> None:
        for name in ("full", "empty", "zeros", "tensor"):
            setattr(self, name, self._host(getattr(torch, name)))


@pytest.fixture(scope="module")
def selftest():
    spec = importlib.util.spec_from_file_location("gpu_selftest_under_test", SELFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def host(monkeypatch):
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *args, **kwargs: self)
    return HostTorch()


def _core_with(launchers: EmulatedLaunchers) -> SimpleNamespace:
    return SimpleNamespace(
        cuda=launchers, tps_grid_matrix=_core.tps_grid_matrix, image_descriptors=_core.image_descriptors
    )


def test_every_check_passes_against_launchers_that_keep_the_kernel_contracts(selftest, host):
    launchers = EmulatedLaunchers()
    core = _core_with(launchers)
    checks = selftest.Checks()
    rng = np.random.default_rng(3)
    selftest.check_tps(core, host, checks, rng, trials=2)
    selftest.check_ctc(core, host, checks, rng, trials=2)
    selftest.check_resize(core, host, checks, rng, trials=2)
    failed = [r for r in checks.rows if not r["passed"]]
    assert not failed, failed
    kernels = {r["kernel"] for r in checks.rows}
    assert kernels == {"tps_grid_sample", "ctc_greedy_decode", "resize_normalize"}
    # both TPS modes were launched and checked, table mode with STAR-Net's and with a random matrix
    assert launchers.calls["tps_grid_sample"] and launchers.calls["tps_grid_sample table"]
    cases = [r["case"] for r in checks.rows if r["kernel"] == "tps_grid_sample"]
    assert any(c.endswith(" table") for c in cases) and any(c.endswith("table(random)") for c in cases)


def test_a_launcher_that_writes_nothing_fails_its_checks(selftest, host):
    core = _core_with(EmulatedLaunchers(write=False))
    checks = selftest.Checks()
    rng = np.random.default_rng(4)
    selftest.check_tps(core, host, checks, rng, trials=0)
    selftest.check_ctc(core, host, checks, rng, trials=0)
    selftest.check_resize(core, host, checks, rng, trials=0)
    by_kernel: dict[str, list[bool]] = {}
    for r in checks.rows:
        by_kernel.setdefault(r["kernel"], []).append(r["passed"])
    assert set(by_kernel) == {"tps_grid_sample", "ctc_greedy_decode", "resize_normalize"}
    assert all(not any(passed) for passed in by_kernel.values()), by_kernel
    assert not checks.passed


def test_the_timing_tables_are_complete(selftest, host):
    """Every timed row the report promises, both TPS modes included (the figures are meaningless here)."""
    core = _core_with(EmulatedLaunchers())
    rows = selftest.time_tps(core, host, 1000.0, repeat=1, n=8)
    rows += selftest.time_ctc(core, host, repeat=1, n=8)
    rows += selftest.time_resize(core, host, 1000.0, repeat=1, n=8)
    cases = [r["case"] for r in rows]
    for mode in ("rows on the fly", "rows table"):
        for dtype in ("float16", "float32"):
            assert f"N8 3x32x100 F20 {dtype} {mode}" in cases
    tuning = [r for r in rows if "(tuning)" in r["case"]]
    assert sum(r["kernel"] == "tps_grid_sample" for r in tuning) == 8  # four chunk sizes per TPS mode, fp16
    # Every non-default (bands, pixels) launch of the bilinear preprocess kernel, fp32.
    assert sum(r["kernel"] == "resize_normalize" for r in tuning) == len(selftest.RESIZE_TUNINGS) - 1
    targets = [r for r in rows if r.get("target")]
    assert {r["kernel"] for r in targets} == {"tps_grid_sample", "ctc_greedy_decode", "resize_normalize"}
    for r in rows:
        assert r["ours_ms"] >= 0 and r["baseline_ms"] >= 0
        if "floor_ms" in r:
            assert r["of_floor"] == pytest.approx(r["floor_ms"] / r["ours_ms"])


def test_the_emulated_launchers_have_the_raw_launchers_signatures():
    """The emulation mirrors ``_core.cuda`` as declared in ``_core.pyi`` (which test_build checks against the
    module), so the self-test is exercised with the argument names and order the real launchers take."""
    import ast
    import inspect

    import starnet_trt

    stub = ast.parse((Path(starnet_trt.__file__).parent / "_core.pyi").read_text(encoding="utf-8"))
    raw = next(n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == "cuda")
    declared = {n.name: [a.arg for a in n.args.args] for n in raw.body if isinstance(n, ast.FunctionDef)}
    for name, params in declared.items():
        emulated = list(inspect.signature(getattr(EmulatedLaunchers, name)).parameters)[1:]  # less self
        assert emulated == params, name


def test_the_profiling_script_launches_every_kernel(host, monkeypatch):
    """tools/gpu_profile.py (what ncu runs in a GPU session) launches every kernel, both TPS modes and the
    preprocess paths (bilinear at two and one pixels per thread and staged, PIL bicubic), three times each, with
    arguments the launchers accept."""
    spec = importlib.util.spec_from_file_location("gpu_profile_under_test", SELFTEST.parent / "gpu_profile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    launchers = EmulatedLaunchers()
    monkeypatch.setattr(module, "torch", host)
    monkeypatch.setattr(module, "_core", _core_with(launchers))
    module.main()
    assert launchers.calls == {
        "tps_grid_sample": 3,
        "tps_grid_sample table": 3,
        "ctc_greedy_decode": 3,
        "resize_normalize": 12,
    }


def test_the_report_records_the_timed_kernels_loop_lengths(selftest):
    figures = selftest.sass_figures("sm_90")
    if "skipped" in figures:
        pytest.skip(figures["skipped"])
    tps = [v for k, v in figures["kernels"].items() if "tpsGridSampleTableKernel<__half, __half>" in k]
    assert len(tps) == 1 and tps[0]["spill_bytes"] == 0
    assert any(loop[1:] == [12, 10, 3] for loop in tps[0]["loops"])  # F = 20, C = 3 sampling: LDG, LDS, STG
    assert any("resizeNormalizeKernel" in k for k in figures["kernels"])
    assert any("ctcGreedyDecodeKernel" in k for k in figures["kernels"])
