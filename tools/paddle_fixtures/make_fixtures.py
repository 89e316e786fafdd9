"""Record PaddleOCR's own STAR-Net outputs for tests/test_paddle_parity.py (needs paddlepaddle; run rarely).

PaddleOCR's model code is not part of this repository. Get the files listed in the README next to this script
from github.com/PaddlePaddle/PaddleOCR (ppocr/modeling/...) into a folder, then, in an environment with
paddlepaddle (benchmarks/setup_compare_cpu.sh makes one):

    .venv-compare/bin/python tools/paddle_fixtures/make_fixtures.py --ppocr third_party/ppocr_ref \\
        --out tests/fixtures/paddle_starnet_mv3.npz

The model is built exactly as PaddleOCR's rec_mv3_tps_bilstm_ctc config does (TPS small, 20 fiducials;
MobileNetV3 large x0.5; SequenceEncoder rnn, hidden 96; CTCHead, 37 classes), filled with the deterministic
weights of tests/paddle_weights.py, and run in eval mode on a fixed input (float32).
Saved per stage: fiducials (loc_net), grid (grid_generator), rectified image, backbone features, neck output and
probabilities; plus the parameter names and shapes, so the test can rebuild the checkpoint without Paddle.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261127


VARIANTS = {
    # name: (TPS model_name, backbone, BiLSTM hidden) as PaddleOCR's rec_*_tps_bilstm_ctc configs set them
    "mv3": ("small", "mobilenet_v3", 96),
    "r34_vd": ("large", "resnet34_vd", 256),
}


def build(paddle, variant: str):
    from ppocr.modeling.heads.rec_ctc_head import CTCHead
    from ppocr.modeling.necks.rnn import SequenceEncoder
    from ppocr.modeling.transforms.tps import TPS

    tps, backbone, hidden = VARIANTS[variant]

    class BaseModel(paddle.nn.Layer):  # PaddleOCR's BaseModel attribute names: transform, backbone, neck, head
        def __init__(self):
            super().__init__()
            self.transform = TPS(in_channels=3, num_fiducial=20, loc_lr=0.1, model_name=tps)
            if backbone == "mobilenet_v3":
                from ppocr.modeling.backbones.rec_mobilenet_v3 import MobileNetV3

                self.backbone = MobileNetV3(in_channels=3, model_name="large", scale=0.5)
            else:
                from ppocr.modeling.backbones.rec_resnet_vd import ResNet

                self.backbone = ResNet(in_channels=3, layers=34)
            self.neck = SequenceEncoder(self.backbone.out_channels, encoder_type="rnn", hidden_size=hidden)
            self.head = CTCHead(self.neck.out_channels, 37, fc_decay=0.0004)

    return BaseModel()


def stages(paddle, model, x):
    out = {}
    fid = model.transform.loc_net(x)
    out["fiducials"] = fid
    grid = model.transform.grid_generator(fid, [x.shape[3], x.shape[2]])
    out["grid"] = grid.reshape([-1, x.shape[2], x.shape[3], 2])
    rect = model.transform(x)
    out["rectified"] = rect
    feat = model.backbone(rect)
    out["features"] = feat
    seq = model.neck(feat)
    out["neck"] = seq
    out["probs"] = model.head(seq)
    return {k: v.numpy() for k, v in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ppocr", required=True, help="folder holding PaddleOCR's ppocr/modeling files")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="mv3")
    parser.add_argument("--out", help="default: tests/fixtures/paddle_starnet_<variant>.npz")
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    args.out = args.out or str(ROOT / "tests" / "fixtures" / f"paddle_starnet_{args.variant}.npz")
    sys.path.insert(0, args.ppocr)
    sys.path.insert(0, str(ROOT / "tests"))
    import paddle
    from paddle_weights import state_dict

    paddle.set_device("cpu")
    x = np.random.default_rng(SEED).uniform(-1, 1, (args.batch, 3, 32, 100)).astype(np.float32)
    results = {}
    names = None
    # float32 only: the legacy nn.BatchNorm of PaddleOCR's TPS and MobileNetV3 creates float32 parameters whatever
    # the default dtype, so Paddle cannot run this model in float64; the test evaluates float64 with the converted
    # PyTorch model instead.
    for dtype in ("float32",):
        paddle.set_default_dtype(dtype)
        with paddle.utils.unique_name.guard():  # a fresh name scope: TPS names its parameters globally
            model = build(paddle, args.variant)
        model.eval()
        own = model.state_dict()
        if names is None:
            names = [(k, list(v.shape)) for k, v in own.items()]
        weights = state_dict(names, SEED)
        model.set_state_dict({k: paddle.to_tensor(v.astype(dtype)) for k, v in weights.items()})
        with paddle.no_grad():
            results[dtype] = stages(paddle, model, paddle.to_tensor(x.astype(dtype)))
    arrays = {"input": x}
    for dtype, outs in results.items():
        for k, v in outs.items():
            arrays[f"{k}_{dtype}"] = v.astype(np.float32 if dtype == "float32" else np.float64)
    meta = {
        "seed": SEED,
        "paddle": paddle.__version__,
        "variant": args.variant,
        "config": "rec_{}_tps_bilstm_ctc: TPS {} F20, {}, rnn hidden {}, CTCHead 37".format(
            args.variant, *VARIANTS[args.variant]
        ),
        "names": names,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez_compressed(args.out, **arrays)
    size = Path(args.out).stat().st_size
    for k, v in results["float32"].items():
        print(f"{k:10s} {v.shape}")
    print(f"wrote {args.out} ({size / 1e6:.2f} MB, {len(names)} parameters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
