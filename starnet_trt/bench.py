"""``starnet-trt bench``: latency and throughput of :class:`~starnet_trt.Recognizer` per batch size.

For every batch size the same :class:`Recognizer` (one model, one backend) runs warm-up calls, then timed
``recognize`` calls on already-decoded images (file reading is not part of the figure):

- latency of one call: mean, p50, p90, p95, p99 and max, in milliseconds (``time.perf_counter``);
- throughput: images per second over the timed calls;
- per-stage breakdown from the Recognizer's own timers (preprocess, inference, decode, per call);
- host memory: resident set size after the batch size's runs, and the peak;
- device memory, where the backend reports it.

The report also records the environment (CPU, cores, OS, Python, NumPy, ONNX Runtime and its providers,
TensorRT, GPU and driver from ``nvidia-smi``; on Jetson the L4T release, ``nvpmodel`` power mode and a
``tegrastats`` sample) and, for a TensorRT engine with ``trtexec`` on the PATH, trtexec's GPU compute time for the
same engine and batch beside ours. Output: a table on stdout, ``--markdown`` for a Markdown table, ``--json FILE``
for everything, ``--plot FILE.png`` for a chart (needs matplotlib).

Side by side (``--vs [MODEL][@BACKEND[:PRECISION]]``, repeatable): every configuration is opened at once and, for
each batch size, their timed calls alternate in three rounds (``--duration`` and ``--iterations`` split among
them), so a machine that drifts (a VM's neighbours, a Jetson's clocks and temperature) drifts for all of them
alike. A table of images/s and of each configuration's ratio to the first follows: ratios from one run, as our
figures are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_BATCHES = (1, 8, 32, 128)
PERCENTILES = (50, 90, 95, 99)


@dataclass
class BatchResult:
    """Timings of one batch size (milliseconds unless named otherwise)."""

    batch: int
    calls: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    images_per_s: float
    stages_ms: dict[str, float]
    rss_mb: float | None
    device_memory_mb: float | None = None
    trtexec_gpu_ms: float | None = None


@dataclass
class BenchReport:
    model: str
    backend: str
    providers: list[str]
    images: str
    warmup: int
    environment: dict[str, Any]
    results: list[BatchResult] = field(default_factory=list)
    peak_rss_mb: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BenchConfig:
    """One configuration of a side-by-side run: a model (``None``: the bundled one), a backend and a precision."""

    model: str | None = None
    backend: str = "auto"
    precision: str | None = None

    def label(self) -> str:
        name = Path(self.model).name if self.model else "bundled model"
        return (
            name
            + ("" if self.backend == "auto" else f" @{self.backend}")
            + (f":{self.precision}" if self.precision else "")
        )


def parse_config(spec: str, default_model: str | None = None) -> BenchConfig:
    """``[MODEL][@BACKEND[:PRECISION]]`` (``--vs``): ``@openvino:bf16``, ``m.int8.onnx@openvino``, ``x.engine``.

    An empty MODEL means ``default_model`` (the first configuration's).

    Raises:
        ValueError: An unknown backend or precision, or an empty spec.
    """
    from .cli import BACKEND_CHOICES, PRECISION_CHOICES

    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("--vs needs [MODEL][@BACKEND[:PRECISION]], e.g. @openvino:bf16 or m.int8.onnx@openvino")
    model, _, rest = spec.rpartition("@") if "@" in spec else (spec, "", "")
    backend, _, precision = rest.partition(":")
    backend = backend or "auto"
    if backend not in BACKEND_CHOICES:
        raise ValueError(f"--vs {spec!r}: backend must be one of {list(BACKEND_CHOICES)}, got {backend!r}")
    if precision and precision not in PRECISION_CHOICES:
        raise ValueError(f"--vs {spec!r}: precision must be one of {list(PRECISION_CHOICES)}, got {precision!r}")
    return BenchConfig(model or default_model, backend, precision or None)


# ------------------------------------------------------------------------------------------------ inputs


def parse_batches(text: str) -> list[int]:
    """``"1,8,32"`` -> ``[1, 8, 32]``; raises ValueError naming the bad entry."""
    batches = []
    for part in str(text).split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"--batch: expected comma-separated positive integers, got {part!r} in {text!r}")
        batches.append(int(part))
    return batches


def generated_images(count: int, seed: int = 0) -> list[np.ndarray]:
    """Word-like BGR images: dark strokes on a light, noisy background, heights 24..64, aspect 1.5..6."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        h = int(rng.integers(24, 65))
        w = int(h * rng.uniform(1.5, 6.0))
        img = np.full((h, w, 3), rng.integers(150, 256), np.uint8)
        img = np.clip(img.astype(np.int16) + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
        for x in range(int(rng.integers(2, 8))):
            x0 = int((x + 0.2) * w / 8)
            img[h // 4 : 3 * h // 4, x0 : x0 + max(1, w // 24)] = rng.integers(0, 90)
        images.append(img)
    return images


def load_images(source: str | None, count: int) -> tuple[list[np.ndarray], str]:
    """Decoded images from a folder (cycled to ``count``), or generated ones; plus a description."""
    if source is None:
        return generated_images(count), f"{count} generated word-like images"
    from .images import list_image_files, read_image

    paths = list_image_files(source)
    if not paths:
        raise ValueError(f"--images: no image files in {source!r}")
    decoded = [read_image(p) for p in paths[:count]]
    return [decoded[i % len(decoded)] for i in range(count)], f"{len(decoded)} images from {source}"


# ------------------------------------------------------------------------------------------------ environment


def _run(cmd: Sequence[str], timeout: float = 10.0) -> str | None:
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """What the figures were measured on."""
    from . import __version__

    env: dict[str, Any] = {
        "starnet_trt": __version__,
        "python": platform.python_version(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "numpy": np.__version__,
    }
    try:
        import onnxruntime as ort

        env["onnxruntime"] = ort.__version__
        env["onnxruntime_providers"] = ort.get_available_providers()
    except ImportError:
        env["onnxruntime"] = None
    for name in ("openvino", "tensorrt", "tensorrt_rtx"):
        try:
            module = __import__(name)
            env[name] = getattr(module, "__version__", "unknown")
        except ImportError:
            pass
    if shutil.which("nvidia-smi"):
        env["gpu"] = _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"])
    tegra = Path("/etc/nv_tegra_release")
    if tegra.is_file():  # Jetson
        env["l4t"] = tegra.read_text(errors="replace").splitlines()[0].strip()
        if shutil.which("nvpmodel"):
            env["power_mode"] = _run(["nvpmodel", "-q"])
        if shutil.which("jetson_clocks"):
            env["clocks"] = _run(["jetson_clocks", "--show"])
        if shutil.which("tegrastats"):
            env["tegrastats"] = tegrastats_sample()
    return env


def tegrastats_sample(seconds: float = 1.5) -> str | None:
    """A couple of ``tegrastats`` lines (RAM, CPU and GPU load, clocks and power rails) on Jetson."""
    try:
        proc = subprocess.Popen(["tegrastats", "--interval", "500"], stdout=subprocess.PIPE, text=True)
    except OSError:
        return None
    time.sleep(seconds)
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None
    lines = [line for line in out.splitlines() if line.strip()]
    return lines[-1] if lines else None


def _status_mb(field: str) -> float | None:
    """A memory field of Linux ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in MiB; None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process in MiB (``VmHWM``, else ``getrusage``)."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    try:
        import resource

        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    except (ImportError, OSError):
        return None


def rss_mb() -> float | None:
    """Resident set size of this process in MiB (Linux ``/proc``; the peak where only that is known)."""
    current = _status_mb("VmRSS")
    return current if current is not None else peak_rss_mb()


# ------------------------------------------------------------------------------------------------ trtexec

_TRTEXEC_GPU = re.compile(r"GPU Compute Time:.*?\bmean = ([0-9.]+) ms")


def parse_trtexec_gpu_ms(output: str) -> float | None:
    """trtexec's mean GPU compute time (ms) from its summary (``GPU Compute Time: min = .., mean = .. ms``)."""
    match = _TRTEXEC_GPU.search(output)
    return float(match.group(1)) if match else None


def trtexec_gpu_ms(engine: str, input_name: str, shape: Sequence[int], plugins: str | None) -> float | None:
    """trtexec's GPU compute time for ``engine`` at ``shape`` (None when trtexec is absent or fails)."""
    exe = shutil.which("trtexec")
    if exe is None:
        return None
    cmd = [exe, f"--loadEngine={engine}", f"--shapes={input_name}:{'x'.join(map(str, shape))}", "--useCudaGraph"]
    if plugins:
        cmd.append(f"--dynamicPlugins={plugins}")
    out = _run(cmd, timeout=300)
    return parse_trtexec_gpu_ms(out) if out else None


# ------------------------------------------------------------------------------------------------ timing


def percentile_summary(times_s: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(times_s, dtype=np.float64) * 1e3
    summary = {"mean_ms": float(ms.mean()), "max_ms": float(ms.max())}
    for p in PERCENTILES:
        summary[f"p{p}_ms"] = float(np.percentile(ms, p))
    return summary


def time_batch(
    recognize: Callable[[list[np.ndarray]], object],
    batch: list[np.ndarray],
    *,
    warmup: int,
    iterations: int | None,
    duration: float | None,
) -> list[float]:
    """Per-call seconds of ``recognize(batch)`` after ``warmup`` untimed calls; stops after ``iterations`` calls or
    ``duration`` seconds (at least 3 calls)."""
    for _ in range(warmup):
        recognize(batch)
    times: list[float] = []
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        recognize(batch)
        times.append(time.perf_counter() - t0)
        if iterations is not None and len(times) >= iterations:
            break
        if duration is not None and time.perf_counter() - started >= duration and len(times) >= 3:
            break
    return times


def run_bench(model: str | None, *, backend: str = "auto", precision: str | None = None, **options: Any) -> BenchReport:
    """Benchmark ``model`` (default: the bundled one); ``options`` are :func:`run_side_by_side`'s keywords
    (``batches``, ``iterations``, ``duration``, ``warmup``, ``images``, ``threads``, ``progress``)."""
    return run_side_by_side([BenchConfig(model, backend, precision)], **options)[0]


def run_side_by_side(
    configs: Sequence[BenchConfig],
    *,
    batches: Sequence[int] = DEFAULT_BATCHES,
    iterations: int | None = None,
    duration: float | None = 3.0,
    warmup: int = 3,
    images: str | None = None,
    threads: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[BenchReport]:
    """Benchmark several configurations on the same images, alternating per batch size (module docstring)."""
    import contextlib

    from .recognizer import Recognizer

    if iterations is not None and iterations < 1:
        raise ValueError(f"--iterations must be >= 1, got {iterations}")
    if duration is not None and duration <= 0:
        raise ValueError(f"--duration must be > 0, got {duration}")
    if warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {warmup}")
    if not configs:
        raise ValueError("nothing to benchmark: no configuration")
    pool, described = load_images(images, max(max(batches), 64))
    say = progress or (lambda line: None)
    # Alternating rounds for several configurations; --iterations N is split exactly (N = 4: 2, 1, 1 calls).
    rounds = 1 if len(configs) == 1 else (3 if iterations is None else min(3, iterations))
    with contextlib.ExitStack() as stack:
        recs = [
            stack.enter_context(
                Recognizer(
                    c.model, backend=c.backend, batch_size=max(batches), num_threads=threads, precision=c.precision
                )
            )
            for c in configs
        ]
        env = environment()
        reports = [
            BenchReport(
                model=rec.model_path,
                backend=rec.backend_name,
                providers=list(rec.providers),
                images=described,
                warmup=warmup,
                environment=env,
            )
            for rec in recs
        ]
        for b in batches:
            batch = [pool[i % len(pool)] for i in range(b)]
            times: list[list[float]] = [[] for _ in recs]
            stages: list[dict[str, float]] = [{} for _ in recs]
            for rec in recs:
                for _ in range(warmup):
                    rec.recognize(batch)
            for r in range(rounds):
                for i, rec in enumerate(recs):
                    rec.reset_timings()
                    times[i] += time_batch(
                        rec.recognize,
                        batch,
                        warmup=0,
                        iterations=None if iterations is None else iterations // rounds + (r < iterations % rounds),
                        duration=None if duration is None else duration / rounds,
                    )
                    for k, v in rec.timings.items():
                        stages[i][k] = stages[i].get(k, 0.0) + v
            for i, (rec, report) in enumerate(zip(recs, reports, strict=True)):
                calls = len(times[i])
                result = BatchResult(
                    batch=b,
                    calls=calls,
                    images_per_s=b * calls / float(np.sum(times[i])),
                    stages_ms={k: stages[i].get(k, 0.0) / calls * 1e3 for k in ("preprocess", "inference", "decode")},
                    rss_mb=rss_mb(),
                    **percentile_summary(times[i]),
                )
                if rec.backend_name == "tensorrt":
                    input_info = rec.inputs[0]
                    shape = [b, *[d for d in input_info.shape[1:]]]
                    result.trtexec_gpu_ms = trtexec_gpu_ms(
                        rec.model_path, input_info.name, shape, os.environ.get("STARNET_TRT_PLUGINS")
                    )
                report.results.append(result)
                say(format_row(result) + (f"  {configs[i].label()}" if len(configs) > 1 else ""))
        peak = peak_rss_mb()
        for report in reports:
            report.peak_rss_mb = peak
    return reports


def comparison_table(configs: Sequence[BenchConfig], reports: Sequence[BenchReport]) -> str:
    """Images/s per batch size of each configuration, and its ratio to the first's (measured in the same run)."""
    batches = [r.batch for r in reports[0].results]
    width = max(len(c.label()) for c in configs) + 2
    lines = [
        "side by side, images/s (ratio to the first configuration):",
        f"{'configuration':<{width}}" + "".join(f"{'batch ' + str(b):>20}" for b in batches),
    ]
    for config, report in zip(configs, reports, strict=True):
        cells = []
        for mine, first in zip(report.results, reports[0].results, strict=True):
            cells.append(f"{mine.images_per_s:11.1f} ({mine.images_per_s / first.images_per_s:5.2f}x)")
        lines.append(f"{config.label():<{width}}" + "".join(f"{c:>20}" for c in cells))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ output

HEADER = (
    f"{'batch':>5} {'calls':>6} {'mean ms':>9} {'p50':>8} {'p90':>8} {'p95':>8} {'p99':>8} {'max':>8} "
    f"{'img/s':>9} {'pre ms':>7} {'infer ms':>9} {'decode ms':>9} {'RSS MB':>7}"
)


def format_row(r: BatchResult) -> str:
    rss = f"{r.rss_mb:7.0f}" if r.rss_mb is not None else f"{'-':>7}"
    return (
        f"{r.batch:5d} {r.calls:6d} {r.mean_ms:9.3f} {r.p50_ms:8.3f} {r.p90_ms:8.3f} {r.p95_ms:8.3f} "
        f"{r.p99_ms:8.3f} {r.max_ms:8.3f} {r.images_per_s:9.1f} {r.stages_ms['preprocess']:7.3f} "
        f"{r.stages_ms['inference']:9.3f} {r.stages_ms['decode']:9.3f} {rss}"
    )


def markdown(report: BenchReport) -> str:
    env = report.environment
    lines = [
        f"Model `{Path(report.model).name}`, backend {report.backend} ({', '.join(report.providers)}), "
        f"{report.images}, {report.warmup} warm-up calls; {env.get('cpu')} ({env.get('logical_cpus')} logical CPUs)"
        + (f", GPU {env['gpu']}" if env.get("gpu") else "")
        + ".",
        "",
        "| batch | mean ms | p50 ms | p90 ms | p99 ms | images/s | preprocess ms | inference ms | decode ms |"
        + (" trtexec GPU ms |" if any(r.trtexec_gpu_ms is not None for r in report.results) else ""),
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        + (" ---: |" if any(r.trtexec_gpu_ms is not None for r in report.results) else ""),
    ]
    for r in report.results:
        row = (
            f"| {r.batch} | {r.mean_ms:.3f} | {r.p50_ms:.3f} | {r.p90_ms:.3f} | {r.p99_ms:.3f} | "
            f"{r.images_per_s:.1f} | {r.stages_ms['preprocess']:.3f} | {r.stages_ms['inference']:.3f} | "
            f"{r.stages_ms['decode']:.3f} |"
        )
        if any(x.trtexec_gpu_ms is not None for x in report.results):
            row += f" {r.trtexec_gpu_ms:.3f} |" if r.trtexec_gpu_ms is not None else " - |"
        lines.append(row)
    return "\n".join(lines)


def plot(report: BenchReport | Sequence[BenchReport], path: str, labels: Sequence[str] | None = None) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from exc
    from .atomic import atomic_write_bytes

    reports = [report] if isinstance(report, BenchReport) else list(report)
    names = list(labels) if labels is not None else [f"{Path(r.model).name} on {r.backend}" for r in reports]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for rep, name in zip(reports, names, strict=True):
        batches = [r.batch for r in rep.results]
        prefix = f"{name}: " if len(reports) > 1 else ""
        left.plot(batches, [r.images_per_s for r in rep.results], "o-", label=name)
        right.plot(batches, [r.p50_ms for r in rep.results], "o-", label=f"{prefix}p50")
        right.plot(batches, [r.p99_ms for r in rep.results], "s--", label=f"{prefix}p99")
    left.set(xscale="log", xlabel="batch size", ylabel="images / s", title="throughput")
    if len(reports) > 1:
        left.legend(fontsize="small")
    right.set(xscale="log", yscale="log", xlabel="batch size", ylabel="ms per call", title="latency")
    right.legend(fontsize="small")
    fig.suptitle(names[0] if len(reports) == 1 else "side by side, one run")
    fig.tight_layout()
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())


# ------------------------------------------------------------------------------------------------ CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", help="ONNX model or TensorRT engine (default: the bundled model)")
    from .cli import BACKEND_CHOICES, PRECISION_CHOICES

    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto")
    parser.add_argument("--precision", choices=PRECISION_CHOICES, help="openvino backend only (default fp32)")
    parser.add_argument("--batch", default=",".join(map(str, DEFAULT_BATCHES)), help="batch sizes (default 1,8,32,128)")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--iterations", type=int, help="timed calls per batch size")
    stop.add_argument("--duration", type=float, help="seconds of timed calls per batch size (default 3)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per batch size first (default 3)")
    parser.add_argument("--images", metavar="DIR", help="a folder of word images (default: generated ones)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads, 0 = automatic")
    parser.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--plot", metavar="FILE.png", help="throughput and latency chart (needs matplotlib)")
    parser.add_argument(
        "--vs",
        action="append",
        default=[],
        metavar="[MODEL][@BACKEND[:PRECISION]]",
        help="also run this configuration, alternating with the first, and print the ratios "
        "(repeatable; e.g. --vs @openvino:bf16 --vs m.int8.onnx@openvino)",
    )


def run(args: argparse.Namespace) -> int:
    from .atomic import atomic_write_bytes

    batches = parse_batches(args.batch)
    if args.plot:
        try:
            import matplotlib  # noqa: F401  (checked before the benchmark runs, not after)
        except ImportError as exc:
            raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from exc
    if args.images is not None and not os.path.isdir(args.images):
        raise ValueError(f"--images: {args.images!r} is not a folder of images")
    duration = args.duration if args.duration is not None else (None if args.iterations else 3.0)
    configs = [BenchConfig(args.model, args.backend, args.precision)]
    configs += [parse_config(spec, args.model) for spec in args.vs]
    print(HEADER, flush=True)
    reports = run_side_by_side(
        configs,
        batches=batches,
        iterations=args.iterations,
        duration=duration,
        warmup=args.warmup,
        images=args.images,
        threads=args.threads,
        progress=lambda line: print(line, flush=True),
    )
    for report in reports:
        env = report.environment
        print(
            f"model {report.model} | backend {report.backend} {report.providers} | {report.images} | "
            f"{env.get('cpu')} x{env.get('logical_cpus')}" + (f" | GPU {env['gpu']}" if env.get("gpu") else "")
        )
    if len(reports) > 1:
        print()
        print(comparison_table(configs, reports))
    if args.markdown:
        for report in reports:
            print()
            print(markdown(report))
    if args.json:
        payload: Any = reports[0].as_dict()
        if len(reports) > 1:
            payload = {
                "side_by_side": [{"config": c.label(), **r.as_dict()} for c, r in zip(configs, reports, strict=True)]
            }
        atomic_write_bytes(Path(args.json), json.dumps(payload, indent=2).encode())
    if args.plot:
        plot(reports, args.plot, labels=[c.label() for c in configs])
    return 0
