"""Instruction budgets of the CUDA kernels' hot loops, from their sm_90 machine code (tools/sass_loops.py): no GPU.

The TPS sampler measured issue-bound on an H200 (ncu, tools/gpu_profile.py): its time follows the instructions per
output pixel and sample. CI cannot time it, but it can count them, so an innocent-looking change that brings back
64-bit address arithmetic or per-tap bounds tests fails here instead of waiting for a lent GPU. Budgets are the
counts at the commit that set them (nvcc 13.0) plus a few percent; a deliberate change moves them with a note of the
new count. Times still come only from tools/gpu_selftest on a GPU.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("sass_loops", ROOT / "tools" / "sass_loops.py")
assert _spec is not None and _spec.loader is not None
sass_loops = importlib.util.module_from_spec(_spec)
sys.modules["sass_loops"] = sass_loops  # dataclasses look their module up there
_spec.loader.exec_module(sass_loops)

pytestmark = pytest.mark.skipif(
    sass_loops.nvcc() is None or sass_loops.cuobjdump() is None,
    reason="needs nvcc and cuobjdump (the test extras install nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm)",
)

# One STAR-Net sample of one output pixel (F = 20, C = 3): 10 shared loads of fiducials, 12 gathers, 3 stores.
# 2026-11-27, nvcc 13.0, sm_90: 186-192 (float16 images) and 214-220 (float32); before 32-bit in-sample offsets
# and per-coordinate bounds: 229 and 247-249.
BUDGET = {"half": 200, "float": 232}


@pytest.fixture(scope="module")
def tps_kernels() -> list:
    return sass_loops.analyze(ROOT / "csrc" / "cuda" / "tpsGridSample.cu", "sm_90", r"tpsGridSample\w*Kernel<")


def test_every_tps_kernel_is_found_without_spills(tps_kernels: list) -> None:
    assert len(tps_kernels) == 8, [k.name for k in tps_kernels]  # 2 modes x image float/half x fiducials float/half
    assert all(k.registers > 0 and k.spill_bytes == 0 for k in tps_kernels), [
        (k.name, k.registers, k.spill_bytes) for k in tps_kernels
    ]


@pytest.mark.parametrize("image", ["half", "float"])
def test_tps_starnet_sampling_loop_stays_within_its_instruction_budget(tps_kernels: list, image: str) -> None:
    kernels = [k for k in tps_kernels if f"Kernel<{'__half' if image == 'half' else 'float'}," in k.name]
    assert len(kernels) == 4
    for k in kernels:
        loops = [loop for loop in k.loops if (loop.ldg, loop.lds, loop.stg) == (12, 10, 3)]
        assert loops, f"{k.name}: no F = 20, C = 3 sampling loop found in {k.loops}"
        worst = max(loop.instructions for loop in loops)
        assert worst <= BUDGET[image], f"{k.name}: {worst} instructions per pixel and sample > {BUDGET[image]}"


def test_loop_finder_reads_nested_loops_and_predicated_branches() -> None:
    listing = [
        (0x00, "MOV R1, R2"),
        (0x10, "LDG.E R3, desc[UR4][R4.64]"),  # outer loop start
        (0x20, "LDS.128 R8, [R5]"),  # inner loop start
        (0x30, "STG.E desc[UR4][R6.64], R8"),
        (0x40, "@!P0 BRA 0x20"),  # inner loop end
        (0x50, "STG.E.U16 desc[UR4][R6.64], R3"),
        (0x60, "@P1 BRA P2, 0x10"),  # outer loop end
        (0x70, "BRA 0x80"),  # forward: not a loop
        (0x80, "EXIT"),
    ]
    loops = sass_loops._loops(listing)
    assert [(x.start, x.end, x.instructions, x.ldg, x.lds, x.stg) for x in loops] == [
        (0x10, 0x60, 3, 1, 0, 1),  # outer body without the nested loop
        (0x20, 0x40, 3, 0, 1, 1),
    ]
