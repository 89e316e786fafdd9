"""Side-by-side CPU comparison, one run, one machine, the same decoded images and the same model weights:

1. starnet-trt (``Recognizer``, ONNX Runtime backend) on the ONNX model, and when OpenVINO is installed its
   openvino backend on the same file: fp32, and where the CPU has bfloat16 ``bf16`` (the spatial transformer
   stays fp32) and ``bf16-all``;
2. PaddleOCR's own inference pipeline (``paddleocr`` 2.7's ``tools/infer/predict_rec.TextRecognizer``,
   ``use_onnx``) on the same ONNX model: its preprocessing, its batching and its ``CTCLabelDecode``;
3. the PyTorch reference model in eager mode on the weights the ONNX model was exported from, with the
   reference (PaddleOCR-style) preprocessing and decode;
4. optionally (``--rapidocr``), RapidOCR's ready-made recognizer with its own model, for context;
5. optionally (``--int8 Q.onnx``), the openvino backend on a Q/DQ file of the model (``starnet-trt quantize``).

Images are decoded once before any timing (file reading is excluded for everyone); each contender runs the whole
set ``--repeat`` times after one warm-up batch, and the best pass is reported. Accuracy uses the DTRB protocol
(``starnet_trt.evaluation.word_scores``). PaddleOCR's pipeline must produce exactly our texts on the same model;
the script counts the words where it does not.

Roofline: the model's matrix work per image (``starnet_trt.inspect_model.count_flops``) times a row's images/s,
over this machine's fp32 GEMM peak measured with NumPy's BLAS on all cores, says how close a float32 pipeline is to
what the CPU can do at all, and what PaddleOCR's throughput x 1.5 would need.

Run it alone on an idle machine, in the environment ``benchmarks/setup_compare_cpu.sh`` creates:

    .venv-compare/bin/python benchmarks/compare_cpu.py --data ../shared/data/iiit5k/test.txt --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "starnet_trt" / "models" / "starnet_mv3.onnx"
DEFAULT_WEIGHTS = ROOT / "weights" / "starnet_mv3.pt"


def load_set(label_file: str, limit: int | None) -> tuple[list[np.ndarray], list[str]]:
    from starnet_trt.images import read_image

    base = Path(label_file).parent
    images, labels = [], []
    for line in Path(label_file).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rel, label = line.split("\t", 1)
        images.append(read_image(base / rel))
        labels.append(label)
        if limit is not None and len(images) >= limit:
            break
    return images, labels


def best_pass(run: Callable[[list[np.ndarray]], list[str]], images: list[np.ndarray], repeat: int, batch: int):
    """Warm up on one batch, then the best of ``repeat`` full passes: (seconds, texts of the last pass)."""
    run(images[:batch])
    best, texts = float("inf"), []
    for _ in range(repeat):
        start = time.perf_counter()
        texts = run(images)
        best = min(best, time.perf_counter() - start)
    return best, texts


# ------------------------------------------------------------------------------------------------ contenders


def starnet_trt_runner(
    model: str, batch: int, backend: str = "auto", precision: str | None = None
) -> Callable[[list[np.ndarray]], list[str]]:
    from starnet_trt import Recognizer

    rec = Recognizer(model, batch_size=batch, backend=backend, precision=precision)

    def run(images: list[np.ndarray]) -> list[str]:
        return [r.text for r in rec.recognize(images)]

    return run


def paddleocr_runner(model: str, batch: int) -> Callable[[list[np.ndarray]], list[str]]:
    import importlib

    importlib.import_module("pyclipper")  # before Paddle: imported after it, its module fails with a zlib error
    import paddleocr

    sys.path.insert(0, os.path.dirname(paddleocr.__file__))  # its tools/ and ppocr/ import each other by these names
    import tools.infer.predict_rec as predict_rec
    import tools.infer.utility as utility

    args = utility.parse_args([]) if _takes_argv(utility.parse_args) else _parse_args_without_argv(utility)
    args.use_onnx = True
    args.use_gpu = False
    args.rec_model_dir = model
    args.rec_image_shape = "3,32,100"
    args.rec_batch_num = batch
    args.rec_algorithm = "STARNet"  # any name without special handling: PaddleOCR's generic CTC path
    args.rec_char_dict_path = None  # CTCLabelDecode's default charset, 0-9a-z, as STAR-Net v2.0 was trained
    args.use_space_char = False
    args.benchmark = False
    recognizer = predict_rec.TextRecognizer(args)

    def run(images: list[np.ndarray]) -> list[str]:
        results, _ = recognizer(images)
        return [text for text, _score in results]

    return run


def _takes_argv(parse_args: Any) -> bool:
    import inspect

    return len(inspect.signature(parse_args).parameters) > 0


def _parse_args_without_argv(utility: Any) -> argparse.Namespace:
    saved = sys.argv
    sys.argv = [saved[0]]
    try:
        return utility.parse_args()
    finally:
        sys.argv = saved


def pytorch_runner(weights: str, batch: int) -> Callable[[list[np.ndarray]], list[str]]:
    import torch

    from starnet_trt.model.checkpoint import load_checkpoint, model_from_checkpoint
    from starnet_trt.reference import ctc_label_decode, resize_norm_img

    model, charset = model_from_checkpoint(load_checkpoint(weights))
    model.eval()
    character = ["<blank>", *charset]  # class 0 is the CTC blank

    def run(images: list[np.ndarray]) -> list[str]:
        texts: list[str] = []
        with torch.inference_mode():
            for first in range(0, len(images), batch):
                x = np.stack([resize_norm_img(img) for img in images[first : first + batch]])
                probs = model(torch.from_numpy(x)).numpy()
                texts.extend(text for text, _ in ctc_label_decode(probs, character))
        return texts

    return run


def rapidocr_runner(batch: int) -> Callable[[list[np.ndarray]], list[str]]:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(rec_batch_num=batch)

    def run(images: list[np.ndarray]) -> list[str]:
        results, _ = engine.text_rec(images) if hasattr(engine, "text_rec") else engine.text_recognizer(images)
        return [text for text, _ in results]

    return run


# ------------------------------------------------------------------------------------------------ roofline


def gemm_peak_gflops(size: int = 2048, repeat: int = 7) -> float:
    """This machine's float32 GEMM rate through NumPy's BLAS on all cores: best of ``repeat`` square products."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def model_mflops(model: str) -> float:
    import onnx

    from starnet_trt.inspect_model import count_flops

    return sum(count_flops(onnx.load(model, load_external_data=False)).values()) / 1e6


PRECISION_NOTES = {
    "bf16": ", bf16 after the spatial transformer (fp32)",
    "bf16-all": ", bf16 throughout",
}


def openvino_precisions() -> list[str]:
    """The openvino backend's precisions this machine can run: fp32, and bf16 (spatial transformer in fp32) and
    bf16-all if the CPU has bfloat16."""
    try:
        import openvino
    except ImportError:
        return []
    capabilities = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return ["fp32"] + (["bf16", "bf16-all"] if "BF16" in capabilities else [])


# ------------------------------------------------------------------------------------------------ main


def accuracy(labels: Sequence[str], texts: Sequence[str]) -> tuple[float, float]:
    from starnet_trt.evaluation import word_scores

    scores = [word_scores(label, text) for label, text in zip(labels, texts, strict=True)]
    return 100.0 * float(np.mean([s[0] for s in scores])), float(np.mean([s[1] for s in scores]))


def _openvino_version() -> str | None:
    try:
        import openvino
    except ImportError:
        return None
    return openvino.get_version()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="label file (path<TAB>label), e.g. iiit5k/test.txt")
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="PyTorch weights of --model")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, help="first N images only")
    parser.add_argument("--rapidocr", action="store_true", help="also time RapidOCR's recognizer (its own model)")
    parser.add_argument(
        "--int8",
        metavar="Q.onnx",
        help="also time this Q/DQ file of --model (starnet-trt quantize) under OpenVINO, whose int8 kernels run it",
    )
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.int8 and not openvino_precisions():
        parser.error("--int8: the Q/DQ row runs on the openvino backend; pip install 'starnet-trt[openvino]'")

    import onnxruntime as ort

    images, labels = load_set(args.data, args.limit)
    print(f"{len(images)} images from {args.data}; batch {args.batch}; best of {args.repeat} passes", flush=True)
    contenders: list[tuple[str, str, Callable[[], Callable[[list[np.ndarray]], list[str]]]]] = [
        ("starnet-trt (ONNX Runtime)", "same ONNX model", lambda: starnet_trt_runner(args.model, args.batch)),
    ]
    for precision in openvino_precisions():
        contenders.append(
            (
                f"starnet-trt (OpenVINO {precision})",
                "same ONNX model" + PRECISION_NOTES.get(precision, ""),
                lambda p=precision: starnet_trt_runner(args.model, args.batch, "openvino", p),
            )
        )
    if args.int8:
        contenders.append(
            (
                "starnet-trt (OpenVINO int8)",
                "Q/DQ int8 of the same model",
                lambda: starnet_trt_runner(args.int8, args.batch, "openvino"),
            )
        )
    contenders += [
        ("PaddleOCR 2.7 TextRecognizer", "same ONNX model", lambda: paddleocr_runner(args.model, args.batch)),
        ("PyTorch reference, eager", "same weights", lambda: pytorch_runner(args.weights, args.batch)),
    ]
    if args.rapidocr:
        contenders.append(("RapidOCR recognizer", "its own PP-OCR model", lambda: rapidocr_runner(args.batch)))
    rows: list[dict[str, Any]] = []
    ours: list[str] | None = None
    for name, weights, make in contenders:
        run = make()
        seconds, texts = best_pass(run, images, args.repeat, args.batch)
        acc, ned = accuracy(labels, texts)
        row = {
            "name": name,
            "weights": weights,
            "images_per_s": len(images) / seconds,
            "seconds": seconds,
            "word_accuracy": acc,
            "ned": ned,
        }
        if ours is None:
            ours = texts
        else:
            row["texts_differing_from_starnet_trt"] = sum(a != b for a, b in zip(ours, texts, strict=True))
        rows.append(row)
        print(f"  {name}: {row['images_per_s']:.1f} images/s, {acc:.2f}% words, NED {ned:.4f}", flush=True)
    peak = gemm_peak_gflops()
    mflops = model_mflops(args.model)
    paddle = next(r["images_per_s"] for r in rows if r["name"].startswith("PaddleOCR"))
    for r in rows:
        if r["weights"].startswith("same"):
            r["fp32_gemm_peak_share"] = r["images_per_s"] * mflops / 1e3 / peak
    print()
    print(
        "| pipeline | model | images/s | vs PaddleOCR | share of fp32 GEMM peak | word accuracy | NED | "
        "texts differing from starnet-trt (ONNX Runtime) |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        differing = r.get("texts_differing_from_starnet_trt", "-")
        share = f"{100 * r['fp32_gemm_peak_share']:.0f}%" if "fp32_gemm_peak_share" in r else "-"
        print(
            f"| {r['name']} | {r['weights']} | {r['images_per_s']:.1f} | {r['images_per_s'] / paddle:.2f}x | "
            f"{share} | {r['word_accuracy']:.2f}% | {r['ned']:.4f} | {differing} |"
        )
    ceiling = peak * 1e3 / mflops
    print(
        f"\nRoofline: the model does {mflops:.1f} MFLOP per image; this machine's fp32 GEMM peak (NumPy BLAS, "
        f"{os.cpu_count()} cores) is {peak:.0f} GFLOP/s, so no float32 pipeline exceeds {ceiling:.0f} images/s. "
        f"PaddleOCR x 1.5 = {1.5 * paddle:.0f} images/s = {100 * 1.5 * paddle / ceiling:.0f}% of that peak."
    )
    report = {
        "data": args.data,
        "images": len(images),
        "batch": args.batch,
        "repeat": args.repeat,
        "machine": {"cpu": platform.processor() or platform.machine(), "logical_cpus": os.cpu_count()},
        "onnxruntime": ort.__version__,
        "openvino": _openvino_version(),
        "model_mflop_per_image": mflops,
        "fp32_gemm_peak_gflops": peak,
        "fp32_ceiling_images_per_s": ceiling,
        "rows": rows,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
