"""The CUDA kernels' own source, run on the CPU against the CPU twins (tests/emu: cuda_emu.h, kernels_emu.cpp).

CI has no GPU, so without this a kernel's indexing, band/chunk geometry, shared-memory phases, barriers and warp
collectives first run on a lent GPU, for minutes at a time. Here the .cu files are compiled by the host compiler
with a small CUDA emulation (blocks in turn, threads as fibers meeting at barriers, dynamic shared memory poisoned)
and every kernel is compared with its CPU twin over random shapes, both dtypes and every launch tuning, outputs
poisoned. Device floating-point contraction is not emulated (the host branches of the shared cores run): that, and
speed, remain tools/gpu_selftest's to check on a GPU.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

EMU = Path(__file__).resolve().parent / "emu"


def _build_module():
    spec = importlib.util.spec_from_file_location("kernels_emu_build", EMU / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if build.compiler() is None or build.cuda_include() is None:
        pytest.skip("needs a C++20 compiler and the CUDA toolkit headers (cuda_fp16.h) to build the emulation")
    return build.build(tmp_path_factory.mktemp("kernels_emu"))


def test_every_kernel_matches_its_cpu_twin(emulator: Path) -> None:
    run = subprocess.run([str(emulator), "20261127", "10"], capture_output=True, text=True, timeout=600)
    summary = dict(re.findall(r"^(\w+): (\d+) checks, \d+ failed$", run.stdout, re.M))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert set(summary) == {"resize_normalize", "tps_grid_sample", "ctc_greedy_decode"}
    assert all(int(n) >= 20 for n in summary.values()), run.stdout


def test_rewrite_turns_launches_and_shared_arrays_into_emulator_calls() -> None:
    source = (
        "extern __shared__ __align__(16) unsigned char shared[];\n"
        "extern __shared__ OffsetTap taps[];\n"
        "k<T, 2><<<dim3(a, b), kBLOCK, smem, stream>>>(x, y);\n"
        "other<float>\n        <<<grid, 128, 0, stream>>>(\n            z);\n"
    )
    out = build.rewrite(source)
    assert "unsigned char* shared = reinterpret_cast<unsigned char*>(emu::state().dynamicShared.data());" in out
    assert "OffsetTap* taps = reinterpret_cast<OffsetTap*>" in out
    assert (
        "emu::launch(dim3(a, b), kBLOCK, smem, stream, [&](auto&&... emuArgs) { k<T, 2>(emuArgs...); }, x, y);" in out
    )
    assert "emu::launch(grid, 128, 0, stream, [&](auto&&... emuArgs) { other<float>(emuArgs...); }, " in out
    assert "<<<" not in out and "extern __shared__" not in out
    with pytest.raises(ValueError, match="not rewritten"):
        build.rewrite("k<<<1, 1>>>;")


def test_every_kernel_file_is_rewritten_completely() -> None:
    for cu in sorted((EMU.parents[1] / "csrc" / "cuda").glob("*.cu")):
        assert cu.stem in build.KERNELS, f"{cu.name} is not built by tests/emu/build.py"
        out = build.rewrite(cu.read_text())
        assert "<<<" not in out and "extern __shared__" not in out, cu.name


def test_emulator_catches_a_missing_barrier(tmp_path: Path, emulator: Path) -> None:
    """A kernel that reads shared memory before the barrier that fills it must fail (not pass by luck)."""
    src = tmp_path / "bad.cpp"
    src.write_text(
        """
#include <cstdio>
__global__ void k(int* out)
{
    extern __shared__ int staged[];
    staged[threadIdx.x] = threadIdx.x;
    // missing __syncthreads()
    out[threadIdx.x] = staged[(threadIdx.x + 1) % blockDim.x];
}
int main()
{
    int out[64];
    k<<<1, 64, 64 * sizeof(int), nullptr>>>(out);
    int wrong = 0;
    for (int i = 0; i < 64; ++i) wrong += out[i] != (i + 1) % 64;
    std::printf("%d\\n", wrong);
    return wrong != 0;
}
"""
    )
    src.write_text(build.rewrite(src.read_text()))
    exe = tmp_path / "bad"
    include = build.cuda_include()
    subprocess.run(
        [build.compiler(), "-std=c++20", f"-I{include}", "-include", str(EMU / "cuda_emu.h"), str(src), "-o", str(exe)],
        check=True,
    )
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and int(run.stdout) > 0
    # With the barrier the same kernel passes.
    src.write_text(src.read_text().replace("// missing __syncthreads()", "__syncthreads();"))
    subprocess.run(
        [build.compiler(), "-std=c++20", f"-I{include}", "-include", str(EMU / "cuda_emu.h"), str(src), "-o", str(exe)],
        check=True,
    )
    assert subprocess.run([str(exe)], timeout=60).returncode == 0
