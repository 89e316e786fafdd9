"""Long-run check: RSS of a process calling ``Recognizer.recognize`` many times stays flat.

    python tools/soak.py --calls 100000            # batch sizes cycle 1, 4, 16; prints RSS every 10%
    python tools/soak.py --backend openvino --precision bf16 --calls 20000

Warm-up calls (ONNX Runtime's arena grows to its working size) are excluded; growth is measured from the RSS
after warm-up to the RSS after the last call. Exit status 1 when it grows by 5% or more.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starnet_trt import Recognizer
from starnet_trt.bench import generated_images, rss_mb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--limit", type=float, default=5.0, help="allowed RSS growth in percent")
    parser.add_argument("--backend", default="auto", help="auto, onnxruntime, openvino or tensorrt")
    parser.add_argument("--precision", help="openvino backend only: fp32, bf16 or fp16")
    args = parser.parse_args(argv)
    images = generated_images(64, seed=1)
    batches = [1, 4, 16]
    with Recognizer(batch_size=16, backend=args.backend, precision=args.precision) as rec:
        for i in range(args.warmup):
            b = batches[i % 3]
            rec.recognize(images[i % 48 : i % 48 + b])
        start_rss = rss_mb()
        started = time.perf_counter()
        samples = []
        for i in range(args.calls):
            b = batches[i % 3]
            results = rec.recognize(images[i % 48 : i % 48 + b])
            assert len(results) == b
            if (i + 1) % max(1, args.calls // 10) == 0:
                samples.append(rss_mb())
                print(f"{i + 1:>8} calls  RSS {samples[-1]:.1f} MiB", flush=True)
        end_rss = rss_mb()
    growth = 100.0 * (end_rss - start_rss) / start_rss
    print(
        f"RSS after warm-up {start_rss:.1f} MiB, after {args.calls} calls {end_rss:.1f} MiB: {growth:+.2f}% "
        f"(max {max(samples):.1f} MiB) in {time.perf_counter() - started:.0f} s"
    )
    return 0 if growth < args.limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
