"""Record DTRB's own TPS-ResNet-BiLSTM-CTC outputs for tests/test_dtrb_parity.py (run rarely).

DTRB's code is not part of this repository. Put a checkout of github.com/clovaai/deep-text-recognition-benchmark
(only ``model.py`` and ``modules/`` are imported) in an ignored folder, e.g.

    git clone https://github.com/clovaai/deep-text-recognition-benchmark third_party/dtrb_ref
    python tools/dtrb_fixtures/make_fixtures.py --dtrb third_party/dtrb_ref

The model is built with DTRB's ``Model(opt)`` exactly as ``demo.py --Transformation TPS --FeatureExtraction ResNet
--SequenceModeling BiLSTM --Prediction CTC`` does (F=20, 1x32x100, 512 channels, hidden 256, 37 classes), filled
with the deterministic weights of tests/dtrb_weights.py, and run in eval mode on the first --batch images of
examples/words, preprocessed the way DTRB's demo does it (PIL ``convert('L')``, ``resize((100, 32), BICUBIC)``,
``(x/255 - 0.5)/0.5``). It is run twice: in float32 and, as a reference for what float32 rounding costs DTRB
itself, in float64. Saved per stage: fiducials, sampling grid, rectified image, backbone features, BiLSTM output
and probabilities (float32; float64 for the small stages), DTRB's stored TPS constants and the state-dict names
and shapes, so the test rebuilds the checkpoint without DTRB.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261127
FLOAT64_STAGES = ("fiducials", "neck", "probs")  # the rest would double the fixture; their float64 is recomputed


def dtrb_options() -> SimpleNamespace:
    return SimpleNamespace(
        Transformation="TPS", FeatureExtraction="ResNet", SequenceModeling="BiLSTM", Prediction="CTC",
        num_fiducial=20, imgH=32, imgW=100, input_channel=1, output_channel=512, hidden_size=256, num_class=37,
        batch_max_length=25,
    )  # fmt: skip


def dtrb_input(paths: list[Path]) -> np.ndarray:
    """DTRB's demo preprocessing (RawDataset + AlignCollate(keep_ratio_with_pad=False) + ResizeNormalize)."""
    from PIL import Image

    batch = []
    for path in paths:
        img = Image.open(path).convert("L").resize((100, 32), Image.BICUBIC)
        batch.append(((np.asarray(img, np.float32) / 255.0 - 0.5) / 0.5)[None])
    return np.stack(batch)


def stages(torch, model, x) -> dict[str, np.ndarray]:
    tps = model.Transformation
    fid = tps.LocalizationNetwork(x)
    grid = tps.GridGenerator.build_P_prime(fid).reshape(x.shape[0], 32, 100, 2)
    rect = tps(x)
    feat = model.FeatureExtraction(rect)
    pooled = model.AdaptiveAvgPool(feat.permute(0, 3, 1, 2)).squeeze(3)
    seq = model.SequenceModeling(pooled)
    probs = torch.softmax(model.Prediction(seq.contiguous()), dim=2)
    end_to_end = torch.softmax(model(x, None), dim=2)
    assert torch.equal(end_to_end, probs), "the stages must compose to DTRB's forward"
    out = {"fiducials": fid, "grid": grid, "rectified": rect, "features": feat, "neck": seq, "probs": probs}
    return {k: v.detach().numpy() for k, v in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtrb", required=True, help="folder holding DTRB's model.py and modules/")
    parser.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "dtrb_trbc.npz"))
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.dtrb).resolve()))
    sys.path.insert(0, str(ROOT / "tests"))
    import torch
    from dtrb_weights import state_dict
    from model import Model  # DTRB's

    torch.manual_seed(SEED)
    paths = sorted((ROOT / "examples" / "words").glob("dtrb_demo_*"))[: args.batch]
    x = dtrb_input(paths)
    model = Model(dtrb_options()).eval()
    own = model.state_dict()
    constants = {k: v.numpy().copy() for k, v in own.items() if k.startswith("Transformation.GridGenerator.")}
    names = [(k, list(v.shape)) for k, v in own.items() if k not in constants]
    weights = state_dict(names, SEED)
    result = model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=False)
    assert sorted(result.missing_keys) == sorted(constants) and not result.unexpected_keys, result
    results = {}
    with torch.no_grad():
        results["float32"] = stages(torch, model, torch.from_numpy(x))
        # float64 needs the TPS buffers rebuilt in float64 (DTRB registers them as float32 from float64 NumPy).
        gg = model.Transformation.GridGenerator
        inv64 = torch.tensor(gg._build_inv_delta_C(gg.F, gg.C), dtype=torch.float64)
        p_hat64 = torch.tensor(gg._build_P_hat(gg.F, gg.C, gg.P), dtype=torch.float64)
        model.double()
        gg.inv_delta_C, gg.P_hat = inv64, p_hat64
        # DTRB's build_P_prime concatenates float32 zeros: patch the module-level helper's dtype via default dtype.
        torch.set_default_dtype(torch.float64)
        try:
            results["float64"] = stages(torch, model, torch.from_numpy(x).double())
        finally:
            torch.set_default_dtype(torch.float32)
    arrays = {"input": x}
    arrays.update({f"{k}_float32": v.astype(np.float32) for k, v in results["float32"].items()})
    arrays.update({f"{k}_float64": results["float64"][k] for k in FLOAT64_STAGES})
    arrays.update({f"const_{k.rsplit('.', 1)[1]}": v for k, v in constants.items()})
    dtrb_err = {
        k: float(np.abs(results["float32"][k].astype(np.float64) - results["float64"][k]).max())
        for k in results["float32"]
    }
    meta = {
        "seed": SEED,
        "torch": torch.__version__,
        "dtrb": "clovaai/deep-text-recognition-benchmark model.py + modules/ (see tools/dtrb_fixtures/README.md)",
        "config": "TPS-ResNet-BiLSTM-CTC: F20, 1x32x100, ResNet 512 [1,2,5,3], BiLSTM 256 x2, CTC 37",
        "images": [p.name for p in paths],
        "dtrb_float32_vs_float64": dtrb_err,
        "names": names,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez_compressed(args.out, **arrays)
    for k, v in results["float32"].items():
        print(f"{k:10s} {v.shape!s:22s} |DTRB f32 - f64| {dtrb_err[k]:.2e}")
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.2f} MB, {len(names)} tensors)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
