"""Launch each CUDA kernel a few times at the self-test's N=256 shapes, for a profiler.

tools/gpu_selftest --build-only
ncu --clock-control none --kernel-name regex:Kernel python3 tools/gpu_profile.py
(kernels: tpsGridSample both modes, ctcGreedyDecode, resizeNormalize with two and one pixels per thread and
with staged source rows, pilResize)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_selftest import _fiducials, ctc_launch, pack_images, resize_launch, tps_launch

from starnet_trt import _core


def main() -> None:
    rng = np.random.default_rng(0)
    n = 256
    image = torch.from_numpy(rng.uniform(-1, 1, (n, 3, 32, 100)).astype(np.float16)).cuda()
    fid = torch.from_numpy(_fiducials(rng, n, 20, 0.1)).cuda().half()
    out = torch.empty_like(image)
    scores = torch.from_numpy(rng.random((n, 25, 37)).astype(np.float32)).cuda()
    outs = (
        torch.empty((n, 25), dtype=torch.int32, device="cuda"),
        torch.empty(n, dtype=torch.int32, device="cuda"),
        torch.empty(n, dtype=torch.float32, device="cuda"),
    )
    images = [
        rng.integers(0, 256, (int(rng.integers(24, 64)), int(rng.integers(40, 400)), 3), np.uint8) for _ in range(n)
    ]
    packed, descs, _ = pack_images(_core, torch, images)
    batch = torch.empty((n, 3, 32, 100), dtype=torch.float32, device="cuda")
    widths = torch.empty(n, dtype=torch.int32, device="cuda")
    table = torch.from_numpy(_core.tps_grid_matrix(20, 32, 100)).cuda()
    gray = torch.empty((n, 1, 32, 100), dtype=torch.float32, device="cuda")
    for _ in range(3):
        tps_launch(_core, torch, image, fid, out, (32, 100))  # rows on the fly
        tps_launch(_core, torch, image, fid, out, (32, 100), table=table)  # table mode (the builder's default)
        ctc_launch(_core, torch, scores, 0, outs, None)
        resize_launch(_core, torch, packed, descs, n, batch, widths)  # the default: two pixels per thread
        resize_launch(_core, torch, packed, descs, n, batch, widths, tuning=(0, 1, 0))  # one pixel, more blocks
        resize_launch(_core, torch, packed, descs, n, batch, widths, tuning=(0, 0, 2))  # source rows staged in smem
        resize_launch(_core, torch, packed, descs, n, gray, widths, "dtrb")  # PIL gray + bicubic (pilResizeKernel)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
