"""CTC decoding speed: native ctc_greedy_decode vs PaddleOCR's CTCLabelDecode copy on [256, 25, 37] softmax.

Usage:
    python benchmarks/bench_decode.py [--batch 256] [--repeat 20] [--json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from timing import best_of

from starnet_trt import reference
from starnet_trt.ops import ctc_beam_search_decode, ctc_greedy_decode

CHARSET = ["blank", *"0123456789abcdefghijklmnopqrstuvwxyz"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--threads", type=int, default=0, help="native worker threads (0 = all cores)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--beam-width", type=int, default=10)
    parser.add_argument("--beam-samples", type=int, default=16, help="samples for the (slow) Python beam reference")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(args.batch, args.steps, len(CHARSET))) * 3
    logits[:, :, 0] += 2  # real outputs are mostly blank
    probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)

    def native() -> None:
        ctc_greedy_decode(probs, num_threads=args.threads)

    def native_with_text() -> list[str]:
        indices, lengths, _ = ctc_greedy_decode(probs, num_threads=args.threads)
        return ["".join(CHARSET[k] for k in row[:n]) for row, n in zip(indices.tolist(), lengths.tolist(), strict=True)]

    def python_ref() -> None:
        reference.ctc_label_decode(probs, CHARSET)

    assert native_with_text() == [text for text, _ in reference.ctc_label_decode(probs, CHARSET)]
    t_native = best_of(args.repeat, native)
    t_text = best_of(args.repeat, native_with_text)
    t_python = best_of(max(3, args.repeat // 4), python_ref)
    t_beam = best_of(3, lambda: ctc_beam_search_decode(probs, beam_width=args.beam_width, num_threads=args.threads))
    few = probs[: args.beam_samples]
    t_beam_py = best_of(1, lambda: [reference.ctc_prefix_beam_search(p, args.beam_width) for p in few])
    t_beam_py *= len(probs) / len(few)  # extrapolated to the whole batch
    result = {
        "shape": [args.batch, args.steps, len(CHARSET)],
        "native_ms": 1e3 * t_native,
        "native_with_text_ms": 1e3 * t_text,
        "python_ms": 1e3 * t_python,
        "speedup": t_python / t_native,
        "speedup_with_text": t_python / t_text,
        "beam_width": args.beam_width,
        "beam_native_ms": 1e3 * t_beam,
        "beam_python_ms_extrapolated": 1e3 * t_beam_py,
        "beam_speedup": t_beam_py / t_beam,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"| CTC decode {tuple(result['shape'])} | ms | speedup |")
    print("|---|---|---|")
    print(f"| reference.ctc_label_decode | {result['python_ms']:.3f} | 1.0x |")
    print(f"| native ctc_greedy_decode | {result['native_ms']:.3f} | {result['speedup']:.1f}x |")
    print(f"| native + Python text join | {result['native_with_text_ms']:.3f} | {result['speedup_with_text']:.1f}x |")
    print(
        f"| beam search width {args.beam_width}: Python reference (extrapolated) | "
        f"{result['beam_python_ms_extrapolated']:.1f} | 1.0x |"
    )
    print(
        f"| beam search width {args.beam_width}: native | {result['beam_native_ms']:.3f} | "
        f"{result['beam_speedup']:.1f}x |"
    )


if __name__ == "__main__":
    main()
