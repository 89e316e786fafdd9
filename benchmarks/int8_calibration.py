"""INT8 calibration choices, measured on held-out training images (never on a test split).

Calibrates the model on iiit5k/train without its held-out tenth (the lines i % 10 == 9 that the bundled model's
recipe never trained on), one Q/DQ model per calibration setting, and measures each on 903 images outside the
calibration set: the held-out tenths of iiit5k and ic15 train, and svt/train. It prints how many texts each
setting changes from the float model's, and its word accuracy (DTRB protocol: case-insensitive, 0-9a-z).
This is how the defaults (percentile 99.999; the first seven and the depthwise convolutions float; 7-bit weights) were
chosen; the quantize module docstring and the README have the figures.

Usage:
    python benchmarks/int8_calibration.py [--data ../shared/data] [--model M] [--backend onnxruntime|openvino]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
from pathlib import Path

import cv2

from starnet_trt import Recognizer
from starnet_trt.quantize import PrecisionPolicy, quantize_model
from starnet_trt.recognizer import DEFAULT_MODEL_PATH
from starnet_trt.samples import sample_words_dir

# (label, calibration set: "train" = iiit5k/train without the held-out tenth, "samples" = the shipped words,
#  method, percentile, images)
#  policy: PrecisionPolicy fields; {} is the default policy)
ALL_CONVS = {"quantize_depthwise": True, "float_stem": 0}
SETTINGS = [
    ("minmax", "train", "minmax", 99.999, 512, {}),
    ("percentile 99.999 (default)", "train", "percentile", 99.999, 512, {}),
    ("percentile 99.99", "train", "percentile", 99.99, 512, {}),
    ("percentile 99.9999", "train", "percentile", 99.9999, 512, {}),
    ("percentile 99.999, 1800 images", "train", "percentile", 99.999, 1800, {}),
    ("percentile 99.999, the 25 shipped sample words", "samples", "percentile", 99.999, 512, {}),
    ("every backbone convolution quantized", "train", "percentile", 99.999, 512, ALL_CONVS),
    ("stem float", "train", "percentile", 99.999, 512, {"quantize_depthwise": True, "float_stem": 1}),
    ("first seven convolutions float", "train", "percentile", 99.999, 512, {"quantize_depthwise": True}),
    ("depthwise convolutions float", "train", "percentile", 99.999, 512, {"float_stem": 0}),
    # How many of the first convolutions stay float (7, MobileNetV3's stem and first two blocks, since 2026-12-07).
    ("first three convolutions and depthwise float", "train", "percentile", 99.999, 512, {"float_stem": 3}),
    ("first four convolutions and depthwise float", "train", "percentile", 99.999, 512, {"float_stem": 4}),
    ("first ten convolutions and depthwise float", "train", "percentile", 99.999, 512, {"float_stem": 10}),
    # The default before 2026-12-07: on x86 CPUs without VNNI (AVX2 only) full-range weights saturate.
    ("full-range weights", "train", "percentile", 99.999, 512, {"full_range_weights": True}),
]


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _normalize(text: str) -> str:
    return re.sub("[^0-9a-z]", "", text.lower())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "openvino"))
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    # The Q/DQ files run under ONNX Runtime on purpose (its int8 emulation is the measure); no speed warning each time.
    logging.getLogger("starnet_trt.backends.onnxruntime_backend").setLevel(logging.ERROR)
    logging.getLogger("starnet_trt.quantize").setLevel(logging.ERROR)
    data = Path(args.data)
    with tempfile.TemporaryDirectory(prefix="int8-calib-") as tmp:
        root = Path(tmp)
        for name in ("iiit5k", "ic15", "svt"):
            (root / name).symlink_to((data / name).resolve())
        iiit5k = _lines(data / "iiit5k" / "train.txt")
        calib = root / "calib.txt"
        calib.write_text("".join(f"iiit5k/{line}\n" for i, line in enumerate(iiit5k) if i % 10 != 9))
        pool = [f"iiit5k/{line}" for i, line in enumerate(iiit5k) if i % 10 == 9]
        pool += [f"ic15/{line}" for i, line in enumerate(_lines(data / "ic15" / "train.txt")) if i % 10 == 9]
        pool += [f"svt/{line}" for line in _lines(data / "svt" / "train.txt")]
        paths, labels = zip(*(line.split("\t", 1) for line in pool), strict=True)
        images = [cv2.imread(str(root / p)) for p in paths]

        def texts(model: str | Path, backend: str) -> list[str]:
            with Recognizer(str(model), backend=backend) as rec:
                return [r.text for r in rec.recognize(images)]

        def accuracy(got: list[str]) -> float:
            return 100 * sum(_normalize(t) == _normalize(lab) for t, lab in zip(got, labels, strict=True)) / len(got)

        reference = texts(args.model, "onnxruntime")
        rows = [{"setting": "float (ONNX Runtime)", "changed": 0, "accuracy": accuracy(reference)}]
        print(f"{len(images)} held-out images; float model accuracy {rows[0]['accuracy']:.2f}%", flush=True)
        for label, source, method, percentile, count, policy in SETTINGS:
            out = root / "q.onnx"
            quantize_model(
                args.model,
                calib if source == "train" else sample_words_dir(),
                out,
                calib_count=count,
                method=method,
                percentile=percentile,
                policy=PrecisionPolicy(**policy),
            )
            got = texts(out, args.backend)
            changed = sum(a != b for a, b in zip(got, reference, strict=True))
            rows.append({"setting": label, "changed": changed, "accuracy": accuracy(got)})
            print(f"{label:<50} {changed:4d} texts changed   accuracy {rows[-1]['accuracy']:.2f}%", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"images": len(images), "backend": args.backend, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
