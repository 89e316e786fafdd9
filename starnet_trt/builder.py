"""TensorRT engine builder (``starnet-trt build``): ONNX in, ``NAME.engine`` plus its ``NAME.json`` sidecar out.

Steps (``../shared/DESIGN.md``): check the ONNX against the model contract; optionally quantize it to a Q/DQ graph
(:mod:`starnet_trt.quantize`) and/or type it FP16 (:mod:`starnet_trt.graph.fp16`); parse it with TensorRT's ONNX
parser into a *strongly typed* network (precision lives in the graph: TensorRT 11 and TensorRT-RTX have no other
way, TensorRT 10 takes it too); build with one optimization profile over the batch axis; write the engine and the
sidecar atomically.

Flavours (``trt=``):

* ``tensorrt``: NVIDIA TensorRT 10.x (JetPack 6 on Jetson Orin) or 11.x. Needs a CUDA GPU to build; the engine is
  for that GPU's compute capability. DLA (``dla_core``) is Jetson + TensorRT 10 only.
* ``tensorrt_rtx``: TensorRT-RTX (RTX desktop GPUs). Builds on a machine without any GPU (ahead-of-time,
  kernels are specialised at run time): our CI builds real engines this way. Engines are portable across
  Ampere and later by default; ``compute_capabilities`` narrows or adds (7.5 for Turing).
* ``auto``: ``tensorrt`` when importable, else ``tensorrt_rtx``.

Timing cache (``timing_cache=``): loaded before the build when the file exists and written back after it, so
repeated builds on one machine skip tactic timing (full TensorRT). TensorRT-RTX accepts the calls but treats them
as no-ops (it specialises kernels at run time and has a *runtime* cache for that, a matter for the predictor);
the file is still written, so one command line works with both flavours.

The sidecar lets the runtime refuse an engine that does not match what it is about to do: charset,
preprocessing, precision, TensorRT flavour and version, target compute capabilities, plugins, and the sha256 of
the source ONNX, of the graph actually built and of the engine itself.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as _dt
import hashlib
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import argcheck, limits
from .atomic import atomic_write_bytes, atomic_write_path
from .graph.check import CheckedModel, check_onnx
from .graph.plugins import TPS_OP, TPS_ROWS
from .quantize import DEFAULT_CALIB_COUNT, DEFAULT_CALIB_METHOD, DEFAULT_PERCENTILE

log = logging.getLogger(__name__)

FLAVOURS = ("tensorrt", "tensorrt_rtx")
SIDECAR_FORMAT = "starnet-trt-engine"
SIDECAR_VERSION = 1
DEFAULT_BATCH = (1, 16, 64)
PLUGIN_LIBRARY_ENV = "STARNET_TRT_PLUGINS"
PLUGIN_LIBRARY_NAMES = ("libstarnet_plugins.so", "starnet_plugins.dll")
INSTALL_HINT = (
    "on Jetson it comes with JetPack (sudo apt install nvidia-jetpack, or python3-libnvinfer); on a desktop or "
    "server: pip install 'starnet-trt[tensorrt]' (NVIDIA TensorRT 10/11, needs a CUDA GPU to build) or "
    "pip install 'starnet-trt[rtx]' (TensorRT-RTX, for RTX GPUs; builds even without a GPU)"
)


# -- TensorRT flavours -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorRTModule:
    """An imported TensorRT Python module and what it is.

    Attributes:
        flavour: ``"tensorrt"`` or ``"tensorrt_rtx"``.
        version: ``module.__version__``.
        module: The module (``import tensorrt as trt`` / ``import tensorrt_rtx as trt``).
    """

    flavour: str
    version: str
    module: Any

    @property
    def major(self) -> int:
        try:
            return int(self.version.split(".")[0])
        except ValueError:
            return 0


def load_tensorrt(flavour: str = "auto") -> TensorRTModule:
    """Import TensorRT: ``"tensorrt"``, ``"tensorrt_rtx"`` or ``"auto"`` (the first of them that imports).

    Raises:
        ValueError: Unknown flavour.
        RuntimeError: Not installed (the message says how to get it).
    """
    if flavour not in ("auto", *FLAVOURS):
        raise ValueError(f"trt must be one of auto, {', '.join(FLAVOURS)}; got {flavour!r}")
    import importlib

    failures = []
    for name in FLAVOURS if flavour == "auto" else (flavour,):
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # ImportError, or a broken install failing to load its shared libraries
            failures.append(f"{name}: {exc}")
            continue
        return TensorRTModule(name, str(getattr(module, "__version__", "unknown")), module)
    which = "TensorRT" if flavour == "auto" else f"the {flavour!r} Python package"
    raise RuntimeError(f"{which} is not installed ({'; '.join(failures)}); {INSTALL_HINT}")


def _make_logger(trt: Any) -> Any:
    """A TensorRT logger that forwards to :mod:`logging` and remembers errors for the exception message."""

    class _Logger(trt.ILogger):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity in (trt.ILogger.Severity.INTERNAL_ERROR, trt.ILogger.Severity.ERROR):
                self.errors.append(msg)
                log.debug("TensorRT: %s", msg)
            elif severity == trt.ILogger.Severity.WARNING:
                log.info("TensorRT: %s", msg)
            else:
                log.debug("TensorRT: %s", msg)

    return _Logger()


def _make_progress_monitor(trt: Any, say: Callable[[str], None]) -> Any | None:
    """Progress lines for the top three levels of build phases (TensorRT >= 10 / RTX ``IProgressMonitor``)."""
    base = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None
    started = time.perf_counter()

    class _Progress(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self.depth: dict[str, int] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            depth = 0 if parent_phase is None else self.depth.get(parent_phase, 0) + 1
            self.depth[phase_name] = depth
            if depth <= 2:
                say(f"[{time.perf_counter() - started:6.1f}s] {'  ' * depth}{phase_name}")

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True  # never cancel

        def phase_finish(self, phase_name: str) -> None:
            if self.depth.get(phase_name) == 0:
                say(f"[{time.perf_counter() - started:6.1f}s] {phase_name}: done")

    return _Progress()


# -- devices -----------------------------------------------------------------------------------------------------


def is_jetson() -> bool:
    """Whether this is an NVIDIA Jetson board (the only place DLA cores exist)."""
    if os.path.exists("/etc/nv_tegra_release"):
        return True
    try:
        with open("/proc/device-tree/model", "rb") as f:
            return b"jetson" in f.read().lower()
    except OSError:
        return False


def cuda_device() -> dict[str, Any] | None:
    """Name and compute capability of CUDA device 0 through the driver API, or ``None`` without a driver/GPU."""
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            cuda = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return None
    try:
        if cuda.cuInit(0) != 0:
            return None
        device = ctypes.c_int()
        if cuda.cuDeviceGet(ctypes.byref(device), 0) != 0:
            return None
        major, minor = ctypes.c_int(), ctypes.c_int()
        # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76
        if cuda.cuDeviceGetAttribute(ctypes.byref(major), 75, device) != 0:
            return None
        if cuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, device) != 0:
            return None
        raw = ctypes.create_string_buffer(256)
        cuda.cuDeviceGetName(raw, 256, device)
        return {"name": raw.value.decode(errors="replace"), "compute_capability": f"{major.value}.{minor.value}"}
    except (AttributeError, OSError):
        return None


# -- options and results -----------------------------------------------------------------------------------------


def parse_batch(text: str | Sequence[int]) -> tuple[int, int, int]:
    """``"MIN:OPT:MAX"`` (or ``"N"`` for a fixed batch) -> ``(min, opt, max)`` with ``1 <= min <= opt <= max``."""
    if isinstance(text, str):
        parts = text.split(":")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"--batch must be MIN:OPT:MAX or N (integers), got {text!r}") from None
    elif isinstance(text, int) and not isinstance(text, bool):
        values = [text]
    elif isinstance(text, Sequence) and all(isinstance(v, int) and not isinstance(v, bool) for v in text):
        values = list(text)
    else:
        raise TypeError(f"batch must be 'MIN:OPT:MAX', an int or a sequence of ints, got {type(text).__name__}")
    if len(values) == 1:
        values *= 3
    if len(values) != 3:
        raise ValueError(f"--batch must be MIN:OPT:MAX or N, got {text!r}")
    lo, opt, hi = values
    if not 1 <= lo <= opt <= hi:
        raise ValueError(f"--batch needs 1 <= MIN <= OPT <= MAX, got {lo}:{opt}:{hi}")
    return lo, opt, hi


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build_engine` wrote.

    Attributes:
        engine_path: The serialized engine.
        sidecar_path: Its ``.json`` sidecar.
        sidecar: The sidecar's content.
        engine_bytes: Engine size.
        build_seconds: Wall time of the TensorRT build (parse to serialized engine).
        total_seconds: Wall time of the whole call (checks, quantization, build, writes).
        timing_cache_loaded: Bytes of timing cache loaded (0: none given, or the file did not exist yet).
        timing_cache_saved: Bytes of timing cache written after the build (0: no cache file given).
    """

    engine_path: Path
    sidecar_path: Path
    sidecar: dict[str, Any]
    engine_bytes: int
    build_seconds: float
    total_seconds: float
    timing_cache_loaded: int = 0
    timing_cache_saved: int = 0
    log: list[str] = field(default_factory=list)


def default_engine_path(onnx_path: str | os.PathLike[str], precision: str) -> Path:
    """``engines/<onnx stem>.<precision>.engine`` in the current directory."""
    return Path("engines") / f"{Path(os.fspath(onnx_path)).stem}.{precision}.engine"


def sidecar_path_of(engine_path: str | os.PathLike[str]) -> Path:
    """``NAME.engine`` -> ``NAME.json``."""
    return Path(os.fspath(engine_path)).with_suffix(".json")


# -- the build ---------------------------------------------------------------------------------------------------


def _rtx_targets(trt: Any, config: Any, compute_capabilities: Sequence[str]) -> list[str]:
    if compute_capabilities:
        config.num_compute_capabilities = len(compute_capabilities)
        for i, cc in enumerate(compute_capabilities):
            name = "SM" + cc.replace(".", "")
            value = getattr(trt.ComputeCapability, name, None)
            if value is None:
                known = [n[2:-1] + "." + n[-1] for n in dir(trt.ComputeCapability) if n.startswith("SM")]
                raise ValueError(f"compute capability {cc!r} is not one TensorRT-RTX builds for ({', '.join(known)})")
            config.set_compute_capability(value, i)
        return list(compute_capabilities)
    return ["default: portable across Ampere and later (TensorRT-RTX)"]


def _configure_dla(tensorrt: TensorRTModule, builder: Any, config: Any, dla_core: int, gpu_fallback: bool) -> None:
    """DLA on Jetson with TensorRT 10 (the last DLA-capable major). Not testable on CI: kept small and guarded."""
    trt = tensorrt.module
    if tensorrt.major >= 11:
        raise ValueError(
            f"TensorRT {tensorrt.version} has no DLA support; build DLA engines with TensorRT 10 (JetPack 6)"
        )
    cores = int(getattr(builder, "num_DLA_cores", 0))
    if not 0 <= dla_core < cores:
        raise ValueError(f"--dla-core {dla_core} requested, but this device has {cores} DLA core(s)")
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = dla_core
    if gpu_fallback:
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)


def _network_flags(tensorrt: TensorRTModule, weakly_typed: bool) -> int:
    trt = tensorrt.module
    if weakly_typed:
        return 0
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    if flag is None:  # TensorRT < 9: precision flags only; we do not support it
        raise RuntimeError(f"TensorRT {tensorrt.version} is too old: starnet-trt needs TensorRT >= 10 or TensorRT-RTX")
    return 1 << int(flag)


def _parse(tensorrt: TensorRTModule, network: Any, logger: Any, graph: bytes, path: Path) -> Any:
    """Parse ``graph`` into ``network``; returns the parser, which must outlive the build (it owns weights)."""
    parser = tensorrt.module.OnnxParser(network, logger)
    # The path only locates external weights, which starnet-trt models never have; TensorRT's binding takes it
    # as UTF-8, which a non-UTF-8 file name (decoded with surrogate escapes) is not.
    try:
        str(path).encode()
        parsed = parser.parse(graph, str(path))
    except UnicodeEncodeError:
        parsed = parser.parse(graph)
    if not parsed:
        errors = [_parser_error(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ValueError(
            f"TensorRT {tensorrt.version} cannot parse {str(path)!r}: " + " | ".join(errors or logger.errors)
        )
    return parser


def _parser_error(error: Any) -> str:
    """A parser error with the node it concerns (``node_name``/``node_operator`` exist from TensorRT 10)."""
    text = error.desc()
    try:
        where = f" (node {error.node_name()!r}, op {error.node_operator()!r})"
    except Exception:  # older/leaner bindings
        where = ""
    return text + where


def _load_timing_cache(config: Any, path: Path) -> int:
    """Attach the timing cache in ``path`` (a new one when the file does not exist); returns the bytes loaded."""
    if path.is_dir():
        raise IsADirectoryError(f"timing_cache must be a file path, got the directory {str(path)!r}")
    data = path.read_bytes() if path.is_file() else b""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TensorRT-RTX: timing cache calls are no-ops
        try:
            cache = config.create_timing_cache(data)
        except Exception as exc:  # a corrupt or truncated cache file: TensorRT refuses to deserialize it
            log.warning("timing cache %s is unreadable (%s); starting a new one", path, exc)
            cache, data = config.create_timing_cache(b""), b""
        if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
            log.warning("timing cache %s does not match this TensorRT/GPU; starting a new one", path)
            cache = config.create_timing_cache(b"")
            config.set_timing_cache(cache, ignore_mismatch=True)
            data = b""
    return len(data)


def _save_timing_cache(config: Any, path: Path) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        data = bytes(config.get_timing_cache().serialize())
    atomic_write_bytes(path, data)
    return len(data)


@dataclass(frozen=True)
class BuildOptions:
    """How to build; the keyword arguments of :func:`build_engine` (see there)."""

    fp16: bool = False
    int8: bool = False
    calib: str | os.PathLike[str] | None = None
    calib_count: int = DEFAULT_CALIB_COUNT
    calib_method: str = DEFAULT_CALIB_METHOD
    calib_percentile: float = DEFAULT_PERCENTILE
    policy: Any = None
    batch: tuple[int, int, int] = DEFAULT_BATCH
    workspace_mb: int | None = None
    timing_cache: Path | None = None
    opt_level: int | None = None
    trt: str = "auto"
    compute_capabilities: tuple[str, ...] = ()
    dla_core: int | None = None
    gpu_fallback: bool = False
    plugins: str = "auto"
    tps_rows: str = "table"
    charset: str | None = None
    save_onnx: Path | None = None

    def validate(self) -> None:
        from .quantize import CALIB_METHODS, PrecisionPolicy

        for name in ("fp16", "int8", "gpu_fallback"):
            argcheck.require_bool(getattr(self, name), name)
        argcheck.optional_path(self.calib, "calib")
        argcheck.require_int(self.calib_count, "calib_count", 1)
        argcheck.require_choice(self.calib_method, "calib_method", CALIB_METHODS)
        argcheck.require_percentile(self.calib_percentile, "calib_percentile")
        if self.policy is not None and not isinstance(self.policy, PrecisionPolicy):
            raise TypeError(f"policy must be a PrecisionPolicy or None, got {type(self.policy).__name__}")
        argcheck.require_choice(self.trt, "trt", ("auto", *FLAVOURS))
        argcheck.require_choice(self.plugins, "plugins", ("auto", "none"))
        argcheck.require_choice(self.tps_rows, "tps_rows", TPS_ROWS)
        argcheck.optional_str(self.charset, "charset")
        argcheck.optional_int(self.workspace_mb, "workspace_mb (--workspace, MiB)", 1)
        argcheck.optional_int(self.opt_level, "opt_level (--opt-level)", 0, 5)
        argcheck.optional_int(self.dla_core, "dla_core (--dla-core)", 0)
        for cc in self.compute_capabilities:
            if not isinstance(cc, str):
                raise TypeError(f"compute_capabilities must be strings like '8.9', got {type(cc).__name__} {cc!r}")
        if self.gpu_fallback and self.dla_core is None:
            raise ValueError("--gpu-fallback goes with --dla-core")
        if self.dla_core is not None and not is_jetson():
            raise ValueError(
                f"--dla-core {self.dla_core} requested, but this is not a Jetson device: DLA exists only on Jetson"
            )


@dataclass
class _Build:
    """TensorRT objects of one build. The parser must outlive the build: it owns the parsed weights."""

    tensorrt: TensorRTModule
    logger: Any
    builder: Any
    network: Any
    config: Any
    parser: Any = None
    plugin_handle: Any = None
    flags: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    device: dict[str, Any] | None = None


def build_engine(
    onnx_path: str | os.PathLike[str],
    engine_path: str | os.PathLike[str] | None = None,
    *,
    batch: str | Sequence[int] = DEFAULT_BATCH,
    timing_cache: str | os.PathLike[str] | None = None,
    compute_capabilities: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> BuildResult:
    """Build a TensorRT engine from a STAR-Net ONNX model and write ``NAME.engine`` + ``NAME.json``.

    Args:
        onnx_path: Float ONNX model (``starnet-trt export``), or a Q/DQ one (``starnet-trt quantize``).
        engine_path: Output engine; default ``engines/<stem>.<precision>.engine``.
        batch: Optimization profile ``(min, opt, max)`` over the batch axis, or ``"MIN:OPT:MAX"``.
        timing_cache: Timing cache file: loaded when it exists, written after the build, shared across builds.
        compute_capabilities: TensorRT-RTX targets such as ``("8.9",)`` (default: portable, Ampere and later).
        progress: Called with progress lines (default: ``logging`` at INFO).
        **options: :class:`BuildOptions` fields:
            ``fp16`` (type the float parts FP16; I/O stays float32),
            ``int8`` (explicit INT8: quantize with ``calib`` first unless the model already holds Q/DQ nodes),
            ``calib`` (folder, label file or LMDB; ``None``: the 25 shipped sample words), ``calib_count`` (512),
            ``calib_method`` (``"percentile"``, ``"minmax"``, ``"entropy"``), ``calib_percentile`` (99.999),
            ``policy`` (:class:`starnet_trt.quantize.PrecisionPolicy`),
            ``workspace_mb``, ``opt_level`` (0..5), ``trt`` (``"auto"``, ``"tensorrt"``, ``"tensorrt_rtx"``),
            ``dla_core`` and ``gpu_fallback`` (Jetson, TensorRT 10), ``plugins`` (``"auto"``/``"none"``),
            ``tps_rows`` (``"table"``: the TPS plugin reads the graph's matrix, no float64 work per launch;
            ``"on-the-fly"``: it evaluates the radial basis in float64 per launch),
            ``charset`` (for a model without metadata), ``save_onnx`` (also write the graph TensorRT parsed,
            after quantization, plugin surgery and FP16 typing, to this ONNX file).

    Returns:
        Paths, sidecar content, sizes and timings.

    Raises:
        FileNotFoundError: Missing ONNX or calibration set.
        ValueError: Invalid ONNX or options, empty calibration set, DLA requested off Jetson.
        RuntimeError: TensorRT not installed, or the build failed (TensorRT's errors are in the message).

    Example:
        >>> r = build_engine("starnet_mv3.onnx", "engines/mv3.fp16.engine", fp16=True, batch="1:8:32")  # doctest: +SKIP
        >>> r.sidecar["precision"]  # doctest: +SKIP
        'fp16'
    """
    say = argcheck.optional_callable(progress, "progress") or (lambda line: log.info("%s", line))
    started = time.perf_counter()
    cache = argcheck.optional_path(timing_cache, "timing_cache")
    if cache is not None and cache.is_dir():
        raise IsADirectoryError(f"timing_cache must be a file path, got the directory {str(cache)!r}")
    if isinstance(compute_capabilities, str):  # "8.9" or "8.6,8.9", as on the command line
        compute_capabilities = [c.strip() for c in compute_capabilities.split(",") if c.strip()]
    unknown = sorted(set(options) - {f.name for f in fields(BuildOptions)} | ({"batch", "timing_cache"} & set(options)))
    if unknown:
        known = sorted({f.name for f in fields(BuildOptions)} - {"batch", "timing_cache", "compute_capabilities"})
        raise TypeError(f"build_engine got unknown option(s) {unknown}; the options are {known}")
    if "save_onnx" in options and options["save_onnx"] is not None:
        options["save_onnx"] = argcheck.output_file(options["save_onnx"], "save_onnx")
    opts = BuildOptions(
        batch=parse_batch(batch), timing_cache=cache, compute_capabilities=tuple(compute_capabilities), **options
    )
    opts.validate()
    if engine_path is not None:
        engine_path = argcheck.output_file(engine_path, "engine_path")
    checked = check_onnx(onnx_path, charset=opts.charset)
    tensorrt = load_tensorrt(opts.trt)
    if opts.dla_core is not None and tensorrt.flavour == "tensorrt_rtx":
        raise ValueError("DLA cores are a Jetson feature; TensorRT-RTX has none (leave out --dla-core)")
    say(f"TensorRT flavour {tensorrt.flavour} {tensorrt.version}; model {checked.info.arch} from {checked.path}")

    library = _plugin_library(opts.plugins, say, tensorrt.flavour)
    graph, quantization, plugin_records = _prepare_graph(checked, opts, library, say)
    precision = "+".join(p for p, on in (("int8", quantization is not None), ("fp16", opts.fp16)) if on) or "fp32"
    if opts.save_onnx is not None:
        _save_graph(graph, Path(os.fspath(opts.save_onnx)), say)
    out = Path(os.fspath(engine_path)) if engine_path is not None else default_engine_path(onnx_path, precision)

    build = _create_network(tensorrt, checked, graph, weakly_typed=opts.dla_core is not None, plugin_library=library)
    _configure(build, checked, opts, int8=quantization is not None, say=say)
    loaded = 0
    if cache is not None:
        loaded = _load_timing_cache(build.config, cache)
        say(f"timing cache {cache}: " + (f"loaded {loaded} bytes" if loaded else "new"))
        if tensorrt.flavour == "tensorrt_rtx":
            say("timing cache: TensorRT-RTX keeps the file in step but does not use it (it tunes kernels at run time)")
    lo, opt, hi = opts.batch
    say(f"building {precision} engine, batch profile {lo}:{opt}:{hi}")
    build_started = time.perf_counter()
    serialized = build.builder.build_serialized_network(build.network, build.config)
    build_seconds = time.perf_counter() - build_started
    if serialized is None:
        errors = " | ".join(build.logger.errors or ["(no message)"])
        raise RuntimeError(f"TensorRT {tensorrt.version} failed to build the engine: {errors}")
    engine = bytes(serialized)
    saved = 0
    if cache is not None:
        saved = _save_timing_cache(build.config, cache)
        say(f"timing cache {cache}: saved {saved} bytes")

    sidecar = _sidecar(checked, graph, engine, out, precision, quantization, build, plugin_records, opts)
    sidecar["build_seconds"] = round(build_seconds, 3)
    sidecar_path = sidecar_path_of(out)
    # Engine first, sidecar second: a sidecar whose engine_sha256 does not match the engine marks an incomplete pair.
    atomic_write_bytes(out, engine)
    atomic_write_bytes(sidecar_path, (json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n").encode())
    say(f"engine built in {build_seconds:.1f} s: {out} ({len(engine) / 1e6:.2f} MB)")
    return BuildResult(
        engine_path=out,
        sidecar_path=sidecar_path,
        sidecar=sidecar,
        engine_bytes=len(engine),
        build_seconds=build_seconds,
        total_seconds=time.perf_counter() - started,
        timing_cache_loaded=loaded,
        timing_cache_saved=saved,
    )


def _create_network(
    tensorrt: TensorRTModule, checked: CheckedModel, graph: Any, *, weakly_typed: bool, plugin_library: Path | None
) -> _Build:
    trt = tensorrt.module
    logger = _make_logger(trt)
    builder = trt.Builder(logger)
    if builder is None:
        raise RuntimeError(_builder_failure(tensorrt, logger))
    network = builder.create_network(_network_flags(tensorrt, weakly_typed))
    config = builder.create_builder_config()
    if network is None or config is None:
        raise RuntimeError(_builder_failure(tensorrt, logger))
    build = _Build(tensorrt, logger, builder, network, config, flags=[] if weakly_typed else ["STRONGLY_TYPED"])
    if plugin_library is not None:
        _load_plugin_library(build, plugin_library)
    data = checked.path.read_bytes() if graph is checked.proto else graph.SerializeToString()
    build.parser = _parse(tensorrt, network, logger, data, checked.path)
    _check_network(network, checked, len(graph.graph.output))
    return build


def _configure(
    build: _Build, checked: CheckedModel, opts: BuildOptions, *, int8: bool, say: Callable[[str], None]
) -> None:
    """Optimization profile, memory, optimization level, targets, DLA and the progress monitor."""
    trt, config = build.tensorrt.module, build.config
    profile = build.builder.create_optimization_profile()
    c, h, w = checked.input_shape
    lo, opt, hi = opts.batch
    profile.set_shape(checked.input_name, (lo, c, h, w), (opt, c, h, w), (hi, c, h, w))
    config.add_optimization_profile(profile)
    if opts.workspace_mb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_mb << 20)
    if opts.opt_level is not None:
        config.builder_optimization_level = opts.opt_level
    if build.tensorrt.flavour == "tensorrt_rtx":
        build.targets = _rtx_targets(trt, config, opts.compute_capabilities)
    elif opts.compute_capabilities:
        raise ValueError("--compute-capability is a TensorRT-RTX option; TensorRT builds for the GPU it runs on")
    else:
        build.device = cuda_device()
        build.targets = [build.device["compute_capability"]] if build.device else []
    if opts.dla_core is not None:
        _configure_dla(build.tensorrt, build.builder, config, opts.dla_core, opts.gpu_fallback)
        # Weak typing on TensorRT 10 (DLA runs fp16/int8 only): the precision flags enable the kernels.
        for name in ("FP16", "INT8") if int8 else ("FP16",):
            config.set_flag(getattr(trt.BuilderFlag, name))
            build.flags.append(name)
        build.flags += ["DLA", f"DLA_CORE={opts.dla_core}"] + (["GPU_FALLBACK"] if opts.gpu_fallback else [])
    monitor = _make_progress_monitor(trt, say)
    if monitor is not None:
        config.progress_monitor = monitor


def _builder_failure(tensorrt: TensorRTModule, logger: Any) -> str:
    hint = ""
    if tensorrt.flavour == "tensorrt":
        hint = (
            " (NVIDIA TensorRT needs a CUDA GPU and driver to build; TensorRT-RTX builds without one: "
            "--trt tensorrt_rtx)"
        )
    return f"TensorRT {tensorrt.version} could not create a builder: {' | '.join(logger.errors) or 'no message'}{hint}"


def _prepare_graph(
    checked: CheckedModel, opts: BuildOptions, library: Path | None, say: Callable[[str], None]
) -> tuple[Any, dict[str, Any] | None, list[dict[str, str]]]:
    """The graph TensorRT parses, its quantization record (``None`` for a float graph) and its plugins.

    Order matters: Q/DQ first (calibration runs the float graph in ONNX Runtime), then the plugin surgery (it
    checks the TPS matrix at full precision), then FP16 typing.
    """
    graph = checked.proto
    quantization: dict[str, Any] | None = None
    if checked.quantized:
        if opts.calib is not None:
            log.warning("%s is already quantized; --calib is ignored", checked.path)
        props = {p.key: p.value for p in graph.metadata_props}
        quantization = json.loads(props.get("starnet.quantization", '{"format": "qdq", "source": "external"}'))
    elif opts.int8:
        from .quantize import quantize_model

        result = quantize_model(
            checked,
            opts.calib,  # None: the shipped sample words (quantize_model warns)
            None,
            calib_count=opts.calib_count,
            policy=opts.policy,
            method=opts.calib_method,
            percentile=opts.calib_percentile,
            progress=say,
        )
        graph = result.proto
        props = {p.key: p.value for p in graph.metadata_props}
        quantization = json.loads(props["starnet.quantization"])
    plugin_records: list[dict[str, str]] = []
    if library is not None:
        from .graph.plugins import insert_plugins

        graph, plugins = insert_plugins(graph, blank=checked.info.blank_index, tps_rows=opts.tps_rows)
        plugin_records = [dict(p.as_dict(), library=library.name) for p in plugins]
        for record in plugin_records:
            if record["name"] == TPS_OP:
                record["tps_rows"] = opts.tps_rows
    if opts.fp16:
        from .graph.fp16 import convert_to_fp16

        say("typing the graph FP16 (float32 input and output kept)")
        graph = convert_to_fp16(graph)
    return graph, quantization, plugin_records


def _save_graph(graph: Any, path: Path, say: Callable[[str], None]) -> None:
    import onnx

    with atomic_write_path(path) as tmp:
        onnx.save(graph, str(tmp))
    say(f"wrote the graph to build: {path}")


def find_plugin_library() -> Path | None:
    """The starnet-trt TensorRT plugin library: ``$STARNET_TRT_PLUGINS``, else one installed next to the package.

    Raises:
        FileNotFoundError: ``$STARNET_TRT_PLUGINS`` names a file that does not exist.
    """
    named = os.environ.get(PLUGIN_LIBRARY_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise FileNotFoundError(f"{PLUGIN_LIBRARY_ENV}={named!r}: plugin library not found")
        return path
    here = Path(__file__).resolve().parent
    candidates = [folder / name for folder in (here / "lib", here) for name in PLUGIN_LIBRARY_NAMES]
    return next((path for path in candidates if path.is_file()), None)


def _plugin_library(mode: str, say: Callable[[str], None], flavour: str = "tensorrt") -> Path | None:
    if mode == "none":
        return None
    library = find_plugin_library()
    if library is None:
        say("plugins: no starnet-trt plugin library found; building with native TensorRT layers")
    elif flavour == "tensorrt_rtx":
        # TensorRT-RTX (1.7) has no plugin layers: its INetworkDefinition lacks addPluginV3 and its ONNX parser
        # aborts the whole process on a plugin node. Never hand it the rewritten graph.
        say(f"plugins: TensorRT-RTX has no plugin layers; {library.name} is not used, building with native layers")
        return None
    else:
        say(f"plugins: {library}")
    return library


def _load_plugin_library(build: _Build, library: Path) -> None:
    registry = build.builder.get_plugin_registry()
    try:
        handle = registry.load_library(str(library))
    except Exception as exc:  # TensorRT raises RuntimeError/TypeError depending on version
        raise RuntimeError(f"TensorRT cannot load the plugin library {str(library)!r}: {exc}") from None
    if handle is None:
        errors = " | ".join(build.logger.errors) or "no message"
        raise RuntimeError(f"TensorRT cannot load the plugin library {str(library)!r}: {errors}")
    build.plugin_handle = handle


def _check_network(network: Any, checked: CheckedModel, outputs: int) -> None:
    if network.num_inputs != 1 or network.num_outputs != outputs:
        raise ValueError(
            f"TensorRT sees {network.num_inputs} inputs and {network.num_outputs} outputs in {str(checked.path)!r}; "
            f"expected 1 and {outputs}"
        )
    dims = tuple(network.get_input(0).shape)
    if dims[1:] != checked.input_shape or dims[0] != -1:
        raise ValueError(f"TensorRT sees input shape {dims}; expected (-1, {', '.join(map(str, checked.input_shape))})")


def _sidecar(
    checked: CheckedModel,
    graph: Any,
    engine: bytes,
    engine_path: Path,
    precision: str,
    quantization: dict[str, Any] | None,
    build: _Build,
    plugin_records: list[dict[str, str]],
    opts: BuildOptions,
) -> dict[str, Any]:
    from . import __version__

    info = checked.info
    built_graph = checked.sha256 if graph is checked.proto else hashlib.sha256(graph.SerializeToString()).hexdigest()
    c, h, w = checked.input_shape
    lo, opt, hi = opts.batch
    return {
        "format": SIDECAR_FORMAT,
        "format_version": SIDECAR_VERSION,
        "engine": _json_name(engine_path.name),
        "engine_sha256": hashlib.sha256(engine).hexdigest(),
        "engine_bytes": len(engine),
        "precision": precision,
        "quantization": quantization,
        "charset": info.charset,
        "arch": info.arch,
        "preprocess": json.loads(info.preprocess.to_json()),
        "blank_index": info.blank_index,
        "output": info.output,
        "metadata": info.to_props(),
        "metadata_supplied_by_builder": checked.metadata_supplied,
        "input": {"name": checked.input_name, "dtype": "float32", "shape": [-1, c, h, w]},
        "outputs": _io_records(graph.graph.output),
        "profile": {"min": [lo, c, h, w], "opt": [opt, c, h, w], "max": [hi, c, h, w]},
        "tensorrt": {"flavour": build.tensorrt.flavour, "version": build.tensorrt.version},
        "device": {
            "build_gpu": build.device,
            "compute_capabilities": build.targets,
            "dla_core": opts.dla_core,
        },
        "plugins": plugin_records,
        "onnx": {
            "file": _json_name(checked.path.name),
            "sha256": checked.sha256,
            "opset": checked.opset,
            "built_graph_sha256": built_graph,
        },
        "builder": {
            "flags": build.flags,
            "opt_level": opts.opt_level,
            "workspace_mb": opts.workspace_mb,
            "timing_cache": str(opts.timing_cache) if opts.timing_cache is not None else None,
        },
        "build_seconds": None,  # filled in by build_engine
        "built_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "built_by": f"starnet-trt {__version__}",
    }


def _json_name(name: str) -> str:
    """A file name for the sidecar: undecodable bytes of a non-UTF-8 name (surrogate escapes) as \\udcXX, since
    JSON text must be valid UTF-8."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _io_records(values: Any) -> list[dict[str, Any]]:
    """name, numpy dtype name and shape (-1 where symbolic) of graph inputs/outputs."""
    from onnx import helper

    records = []
    for value in values:
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
        records.append({"name": value.name, "dtype": dtype, "shape": dims})
    return records


# -- sidecar reading (for runtimes) ------------------------------------------------------------------------------


def read_sidecar(engine_path: str | os.PathLike[str], *, verify: bool = True) -> dict[str, Any]:
    """The sidecar of ``engine_path``, checked to describe exactly this engine file.

    Raises:
        FileNotFoundError: Engine or sidecar missing.
        ValueError: Not a starnet-trt sidecar, or (``verify``) the engine's sha256 differs from the recorded one.
    """
    engine = Path(os.fspath(engine_path))
    side = sidecar_path_of(engine)
    if not engine.is_file():
        raise FileNotFoundError(f"engine not found: {str(engine)!r}")
    if not side.is_file():
        raise FileNotFoundError(f"engine sidecar not found: {str(side)!r} (build engines with 'starnet-trt build')")
    limits.check_file_size(side, limits.MAX_SIDECAR_BYTES, "engine sidecar")
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{str(side)!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise ValueError(f"{str(side)!r} is not a starnet-trt engine sidecar")
    if verify:
        limits.check_file_size(engine, limits.MAX_ENGINE_BYTES, "engine")
        digest = hashlib.sha256(engine.read_bytes()).hexdigest()
        if digest != data.get("engine_sha256"):
            raise ValueError(f"{str(engine)!r} does not match its sidecar {str(side)!r} (sha256 differs): rebuild it")
    return data


# -- command line ------------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .quantize import add_policy_arguments

    parser.add_argument("--onnx", required=True, metavar="MODEL", help="STAR-Net ONNX model (float, or Q/DQ)")
    parser.add_argument(
        "-o", "--out", metavar="NAME.engine", help="engine to write (default engines/<stem>.<precision>.engine)"
    )
    parser.add_argument("--fp16", action="store_true", help="FP16 (the graph is typed fp16; I/O stays float32)")
    parser.add_argument(
        "--int8",
        action="store_true",
        help="INT8 by explicit quantization, calibrated on --calib (default: the 25 shipped sample words)",
    )
    parser.add_argument(
        "--batch",
        default=":".join(map(str, DEFAULT_BATCH)),
        metavar="MIN:OPT:MAX",
        help="batch profile (default %(default)s)",
    )
    parser.add_argument("--workspace", type=int, metavar="MB", help="workspace memory limit in MiB")
    parser.add_argument("--timing-cache", metavar="FILE", help="timing cache: loaded if present, saved after the build")
    parser.add_argument(
        "--opt-level", type=int, metavar="N", help="builder optimization level 0..5 (TensorRT default 3)"
    )
    parser.add_argument(
        "--trt",
        choices=("auto", *FLAVOURS),
        default="auto",
        help="TensorRT flavour (default auto: tensorrt, else tensorrt_rtx)",
    )
    parser.add_argument(
        "--compute-capability",
        action="append",
        default=[],
        metavar="X.Y",
        help="TensorRT-RTX target (repeatable; default: Ampere and later)",
    )
    parser.add_argument("--dla-core", type=int, metavar="N", help="build for this DLA core (Jetson, TensorRT 10)")
    parser.add_argument(
        "--gpu-fallback", action="store_true", help="with --dla-core: layers DLA cannot run go to the GPU"
    )
    parser.add_argument(
        "--plugins", choices=("auto", "none"), default="auto", help="starnet-trt TensorRT plugins (default auto)"
    )
    parser.add_argument(
        "--tps-rows",
        choices=TPS_ROWS,
        default="table",
        help="TPS plugin: read each pixel's row of the model's TPS matrix (table, default; no float64 work per "
        "launch) or evaluate the radial basis in float64 per launch (on-the-fly)",
    )
    parser.add_argument("--charset", help="charset for a model without starnet-trt metadata")
    parser.add_argument(
        "--save-onnx", metavar="FILE", help="also write the graph TensorRT parses (after int8/plugins/fp16) to FILE"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    add_policy_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from .quantize import policy_from_args

    progress = None if args.quiet else (lambda line: print(f"build: {line}", file=sys.stderr, flush=True))
    result = build_engine(
        args.onnx,
        args.out,
        fp16=args.fp16,
        int8=args.int8,
        calib=args.calib,
        calib_count=args.calib_count,
        calib_method=args.calib_method,
        calib_percentile=args.calib_percentile,
        policy=policy_from_args(args),
        batch=args.batch,
        workspace_mb=args.workspace,
        timing_cache=args.timing_cache,
        opt_level=args.opt_level,
        trt=args.trt,
        compute_capabilities=args.compute_capability,
        dla_core=args.dla_core,
        gpu_fallback=args.gpu_fallback,
        plugins=args.plugins,
        tps_rows=args.tps_rows,
        charset=args.charset,
        save_onnx=args.save_onnx,
        progress=progress,
    )
    print(f"wrote {result.engine_path} ({result.engine_bytes / 1e6:.2f} MB) and {result.sidecar_path}")
    return 0
