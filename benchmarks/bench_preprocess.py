"""Preprocessing speed: native resize_normalize (batches of 64) vs PaddleOCR's per-image resize_norm_img loop.

Usage:
    python benchmarks/bench_preprocess.py --data /work/shared/data/iiit5k/test.txt [--repeat 5] [--json]

Images are decoded once with cv2.imread (not timed); each timing is the best of ``--repeat`` passes over all images.
The full pass streams ~100 MB of decoded pixels, more than the CPU caches, so it also reports a "hot" figure: one
batch processed repeatedly while it stays in cache, which is what a decode -> preprocess pipeline sees.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np
from timing import best_of

from starnet_trt import reference
from starnet_trt.ops import resize_normalize


def load_images(list_file: Path, limit: int | None) -> list[np.ndarray]:
    """Decodes the images listed in ``list_file`` (``<path relative to its folder>\\t<label>`` per line)."""
    images = []
    for line in list_file.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rel = line.split("\t", 1)[0]
        img = cv2.imread(os.fspath(list_file.parent / rel), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read image {list_file.parent / rel}")
        images.append(img)
        if limit is not None and len(images) >= limit:
            break
    return images


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="list file, e.g. iiit5k/test.txt")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="native worker threads (0 = all cores)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)

    images = load_images(args.data, args.limit)
    batches = [images[i : i + args.batch] for i in range(0, len(images), args.batch)]
    # One reusable output buffer per batch size, as a pipeline feeding a model would keep (the reference, too,
    # gets its small per-image arrays back from the allocator hot).
    outs_by_size = {n: np.empty((n, 3, 32, 100), np.float32) for n in {len(b) for b in batches}}
    outs = [outs_by_size[len(b)] for b in batches]

    def native() -> None:
        for batch, out in zip(batches, outs, strict=True):
            resize_normalize(batch, out, num_threads=args.threads)

    def python_loop() -> None:
        for img in images:
            reference.resize_norm_img(img, (3, 32, 100))

    # Correctness guard: a fast wrong answer is worthless.
    resize_normalize(batches[0], outs[0], num_threads=args.threads)
    expected = np.stack([reference.resize_norm_img(img) for img in batches[0]])
    max_diff = float(np.abs(outs[0] - expected).max())

    t_native = best_of(args.repeat, native)
    t_python = best_of(args.repeat, python_loop)
    hot_batch, hot_out = batches[0], outs[0]
    hot_native = best_of(args.repeat * 10, lambda: resize_normalize(hot_batch, hot_out, num_threads=args.threads))
    hot_python = best_of(args.repeat * 10, lambda: [reference.resize_norm_img(img) for img in hot_batch])
    result = {
        "images": len(images),
        "batch": args.batch,
        "threads": args.threads or os.cpu_count(),
        "native_s": t_native,
        "python_s": t_python,
        "native_us_per_image": 1e6 * t_native / len(images),
        "python_us_per_image": 1e6 * t_python / len(images),
        "speedup": t_python / t_native,
        "hot_native_us_per_image": 1e6 * hot_native / len(hot_batch),
        "hot_python_us_per_image": 1e6 * hot_python / len(hot_batch),
        "hot_speedup": hot_python / hot_native,
        "max_abs_diff_first_batch": max_diff,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"| preprocess ({result['images']} images, batch {args.batch}) | total s | us/image |")
    print("|---|---|---|")
    print(f"| reference.resize_norm_img loop | {t_python:.4f} | {result['python_us_per_image']:.1f} |")
    print(
        f"| native resize_normalize ({result['threads']} threads) | {t_native:.4f} | "
        f"{result['native_us_per_image']:.1f} |"
    )
    print(f"| hot cache: reference loop on one batch | | {result['hot_python_us_per_image']:.1f} |")
    print(f"| hot cache: native on one batch | | {result['hot_native_us_per_image']:.1f} |")
    print(
        f"\nspeedup: {result['speedup']:.1f}x full pass, {result['hot_speedup']:.1f}x hot cache "
        f"(max |diff| first batch: {max_diff:.2g})"
    )


if __name__ == "__main__":
    main()
