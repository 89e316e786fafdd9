"""GPU comparison of ways to run the same STAR-Net weights, one run, one machine:

- PyTorch eager, fp32 and fp16 (the reference model, ``weights/*.pt``);
- ``torch.compile`` of the fp16 model;
- ONNX Runtime with the CUDA execution provider, when the installed onnxruntime has it;
- TensorRT engines given with ``--engine`` (FP16/INT8, with or without plugins), when ``tensorrt`` is installed.

Figures: latency at batch 1 (median of CUDA-event-timed calls) and throughput at batch 128, on model inputs
already on the GPU (preprocessing and decoding excluded, the same for every row), plus the share of argmax
predictions equal to PyTorch fp32's. Rows that cannot run here say why instead of a number.

    python benchmarks/compare_gpu.py --json gpu.json [--engine engines/mv3.fp16.engine ...]
    python benchmarks/compare_gpu.py --device cpu --iterations 5     # a smoke run of the script itself
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def timed(torch: Any, device: str, fn: Callable[[], Any], iterations: int, warmup: int = 5) -> float:
    """Median milliseconds of ``fn()``: CUDA events on a GPU, perf_counter on the CPU."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iterations):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(ROOT / "weights" / "starnet_mv3.pt"))
    parser.add_argument("--model", default=str(ROOT / "starnet_trt" / "models" / "starnet_mv3.onnx"))
    parser.add_argument("--engine", action="append", default=[], help="TensorRT engine(s) to time")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--big-batch", type=int, default=128)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    import torch

    if importlib.util.find_spec("starnet_trt") is None:  # run from a checkout without installing it
        import sys

        sys.path.insert(0, str(ROOT))
    from starnet_trt.model.checkpoint import load_checkpoint, model_from_checkpoint

    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: use --device cpu for a smoke run")
    model, _ = model_from_checkpoint(load_checkpoint(args.weights))
    model = model.eval().to(device)
    rng = np.random.default_rng(0)
    inputs = {
        b: torch.from_numpy(rng.uniform(-1, 1, (b, 3, 32, 100)).astype(np.float32)).to(device)
        for b in (1, args.big_batch)
    }
    with torch.inference_mode():
        reference = model(inputs[args.big_batch]).argmax(-1)
    rows: list[dict[str, Any]] = []

    def add(name: str, run: Callable[[Any], Any] | None, why: str = "", dtype: Any = torch.float32) -> None:
        if run is None:
            rows.append({"name": name, "skipped": why})
            print(f"  {name}: skipped ({why})", flush=True)
            return
        x1, xb = inputs[1].to(dtype), inputs[args.big_batch].to(dtype)
        with torch.inference_mode():
            agree = float((torch.as_tensor(run(xb)).to(device).argmax(-1) == reference).float().mean())
            lat = timed(torch, device, lambda: run(x1), args.iterations)
            big = timed(torch, device, lambda: run(xb), max(5, args.iterations // 10))
        row = {"name": name, "batch1_ms": lat, "images_per_s": args.big_batch / (big / 1e3), "argmax_agree": agree}
        rows.append(row)
        print(
            f"  {name}: batch 1 {lat:.3f} ms, batch {args.big_batch} {row['images_per_s']:.0f} img/s, "
            f"argmax agreement {agree:.4f}",
            flush=True,
        )

    add("PyTorch eager fp32", model)
    half = None
    if device == "cuda":
        half = model_from_checkpoint(load_checkpoint(args.weights))[0].eval().to(device).half()
        add("PyTorch eager fp16", half, dtype=torch.float16)
    else:
        add("PyTorch eager fp16", None, "fp16 needs CUDA")
    try:
        compiled = torch.compile(half if half is not None else model)
        add(
            "torch.compile " + ("fp16" if half is not None else "fp32"),
            compiled,
            dtype=torch.float16 if half is not None else torch.float32,
        )
    except Exception as exc:  # compile needs a working toolchain (Triton on CUDA, a C++ compiler on the CPU)
        add("torch.compile", None, f"{type(exc).__name__}: {exc}"[:200])

    import onnxruntime as ort

    provider = "CUDAExecutionProvider" if device == "cuda" else "CPUExecutionProvider"
    if provider in ort.get_available_providers():
        session = ort.InferenceSession(args.model, providers=[provider])

        def ort_run(x: Any) -> Any:
            return session.run(None, {"x": x.detach().cpu().numpy()})[0]

        add(f"ONNX Runtime {provider} (host copies included)", ort_run)
    else:
        add("ONNX Runtime CUDA EP", None, f"onnxruntime {ort.__version__} has no {provider}")
    if args.engine and importlib.util.find_spec("tensorrt") is None:
        for engine in args.engine:
            add(f"TensorRT {Path(engine).name}", None, "tensorrt is not installed")
    elif not args.engine:
        add("TensorRT engines", None, "none given (--engine) or tensorrt not installed")
    else:
        import tensorrt as trt

        logger = trt.Logger(trt.Logger.WARNING)
        for engine_path in args.engine:
            engine = trt.Runtime(logger).deserialize_cuda_engine(Path(engine_path).read_bytes())
            context = engine.create_execution_context()
            names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]

            def trt_run(x: Any, context: Any = context, names: list[str] = names, engine: Any = engine) -> Any:
                outputs = {}
                for name in names:
                    if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                        context.set_input_shape(name, tuple(x.shape))
                        context.set_tensor_address(name, x.contiguous().data_ptr())
                for name in names:
                    if engine.get_tensor_mode(name) == trt.TensorIOMode.OUTPUT:
                        shape = tuple(context.get_tensor_shape(name))
                        dtype = torch.int32 if engine.get_tensor_dtype(name) == trt.int32 else torch.float32
                        outputs[name] = torch.empty(shape, dtype=dtype, device=device)
                        context.set_tensor_address(name, outputs[name].data_ptr())
                context.execute_async_v3(torch.cuda.current_stream().cuda_stream)
                return outputs.get("probs", next(iter(outputs.values())))

            add(f"TensorRT {Path(engine_path).name}", trt_run)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "big_batch": args.big_batch, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
