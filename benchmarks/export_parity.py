"""Max abs difference ONNX Runtime vs PyTorch for both STAR-Net variants (random weights and BN statistics).

Usage: python benchmarks/export_parity.py [--batch 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from starnet_trt.export import export_model
from starnet_trt.metadata import DEFAULT_CHARSET
from starnet_trt.model import build_model


def randomized(arch: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(arch)
    with torch.no_grad():
        for m in model.modules():  # random init weights + random BN affine/statistics at a realistic scale
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.8, 1.2)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        model.transform.loc_net.fc2.weight.normal_(0, 0.02)
    return model.eval()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ("starnet_mv3", "starnet_r34_vd"):
            worst = 0.0
            for seed in range(args.seeds):
                model = randomized(arch, seed)
                path = export_model(model, Path(tmp) / f"{arch}.onnx", charset=DEFAULT_CHARSET)
                sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                x = np.random.default_rng(seed).uniform(-1, 1, (args.batch, 3, 32, 100)).astype(np.float32)
                with torch.no_grad():
                    want = model(torch.from_numpy(x)).numpy()
                worst = max(worst, float(np.abs(sess.run(None, {"x": x})[0] - want).max()))
            rows.append({"arch": arch, "max_abs_diff": worst, "seeds": args.seeds, "batch": args.batch})
    if args.json:
        print(json.dumps(rows))
    else:
        print("| arch | max abs diff ORT vs PyTorch (probs) |\n|---|---|")
        for r in rows:
            print(f"| {r['arch']} | {r['max_abs_diff']:.2e} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
