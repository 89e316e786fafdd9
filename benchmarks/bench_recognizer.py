"""Time Recognizer.recognize and the share of pre- plus post-processing relative to the model run.

Images are decoded once up front, so file reading is not measured; the numbers come from the Recognizer's own
per-stage timers (``Recognizer.timings``), i.e. the code users run, not a copy of it.

Goal: preprocess + decode <= 5% of the ONNX Runtime (or TensorRT) run time.

Usage:
    python benchmarks/bench_recognizer.py --model starnet_mv3.onnx IMAGES_DIR [--batch-size 64] [--count 2048]
    python benchmarks/bench_recognizer.py --model starnet_mv3.onnx --synthetic   # random word-sized images
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import cycle, islice
from pathlib import Path

import numpy as np

from starnet_trt.images import list_image_files, read_image
from starnet_trt.recognizer import Recognizer

GOAL_SHARE = 0.05


def load_images(sources: list[str], count: int, synthetic: bool, seed: int = 0) -> list[np.ndarray]:
    """``count`` images: decoded from ``sources`` (files or folders, repeated as needed) or random ones."""
    if synthetic:
        rng = np.random.default_rng(seed)
        shapes = [
            (int(h), int(h * r)) for h, r in zip(rng.integers(20, 80, count), rng.uniform(1.0, 8.0, count), strict=True)
        ]
        return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]
    paths: list[Path] = []
    for src in sources:
        p = Path(src)
        paths.extend(list_image_files(p) if p.is_dir() else [p])
    if not paths:
        raise SystemExit("no images given: pass files or folders, or --synthetic")
    decoded = [read_image(p) for p in paths[:count]]
    return list(islice(cycle(decoded), count))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", help="image files or folders")
    parser.add_argument("--model", required=True)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--count", type=int, default=2048, help="images per repeat (sources are cycled)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--synthetic", action="store_true", help="random images instead of files")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    images = load_images(args.images, args.count, args.synthetic)
    with Recognizer(args.model, backend=args.backend, batch_size=args.batch_size, num_threads=args.threads) as rec:
        rec.recognize(images[: args.batch_size])  # warm-up: session initialization, first allocations
        rec.reset_timings()
        start = time.perf_counter()
        for _ in range(args.repeat):
            rec.recognize(images)
        wall = time.perf_counter() - start
        t = rec.timings
        providers = rec.providers

    overhead = t["preprocess"] + t["decode"]
    report = {
        "model": args.model,
        "providers": providers,
        "batch_size": args.batch_size,
        "images": int(t["images"]),
        "images_per_s": t["images"] / wall,
        "ms_per_batch": {k: 1e3 * t[k] / t["batches"] for k in ("preprocess", "inference", "decode")},
        "overhead_share": overhead / t["inference"] if t["inference"] else float("nan"),
        "goal_share": GOAL_SHARE,
    }
    if args.json:
        print(json.dumps(report))
    else:
        ms = report["ms_per_batch"]
        print(f"model        {args.model} on {', '.join(providers)}")
        print(f"images       {report['images']} in batches of {args.batch_size}: {report['images_per_s']:.1f} images/s")
        print(
            f"per batch    preprocess {ms['preprocess']:.3f} ms | inference {ms['inference']:.3f} ms | "
            f"decode {ms['decode']:.3f} ms"
        )
        verdict = "ok" if report["overhead_share"] <= GOAL_SHARE else "ABOVE GOAL"
        share, goal = 100 * report["overhead_share"], 100 * GOAL_SHARE
        print(f"pre+post     {share:.2f}% of inference (goal <= {goal:.0f}%): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
