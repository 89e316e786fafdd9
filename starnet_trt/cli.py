"""The ``starnet-trt`` command line.

Every command is a module (or an object in one) exposing ``add_arguments(parser)`` and ``run(args) -> int``,
listed in :data:`COMMANDS`. Only the module of the command being run is imported, so ``starnet-trt recognize``
never loads PyTorch and a missing optional dependency only affects the commands that need it.

Errors caused by the user's input (missing files, bad models, wrong options) print
``starnet-trt: error: <message>`` and exit 2 without a traceback (set ``STARNET_TRT_DEBUG=1`` to see one);
Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

#: --backend choices (starnet_trt.backends.BACKEND_NAMES, spelled out so --help needs no import of the backends)
BACKEND_CHOICES = ("auto", "onnxruntime", "openvino", "tensorrt")
#: --precision choices (starnet_trt.backends.openvino_backend.PRECISIONS)
PRECISION_CHOICES = ("fp32", "bf16", "bf16-all", "fp16", "fp16-all")

PROG = "starnet-trt"

COMMANDS: dict[str, tuple[str, str]] = {
    # name: ("module" or "module:object" with add_arguments/run, one-line help)
    "recognize": ("starnet_trt.cli:RecognizeCommand", "recognize the text of word images"),
    "eval": ("starnet_trt.cli:EvalCommand", "word accuracy and NED on a labelled dataset (DTRB protocol)"),
    "inspect": ("starnet_trt.cli:InspectCommand", "describe a model: inputs, outputs, opset, metadata, sha256"),
    "export": ("starnet_trt.export", "export STAR-Net weights to a self-describing ONNX model (needs PyTorch)"),
    "train": ("starnet_trt.train", "train STAR-Net (needs PyTorch)"),
    "synth": ("starnet_trt.data.synth", "render synthetic word images into an LMDB dataset"),
    "build": ("starnet_trt.builder", "build a TensorRT engine (fp32/fp16/int8) and its sidecar from an ONNX model"),
    "quantize": ("starnet_trt.quantize", "calibrate on word images and write an explicit-INT8 (Q/DQ) ONNX model"),
    "bench": ("starnet_trt.bench", "latency and throughput per batch size, with a per-stage breakdown"),
    "convert": ("starnet_trt.convert", "PaddleOCR STAR-Net (.pdparams) or DTRB TPS-ResNet-BiLSTM-CTC (.pth) to ONNX"),
}

_TORCH_MODULES = ("torch", "torchvision")
_DEBUG_ENV = "STARNET_TRT_DEBUG"


class CommandUnavailable(Exception):
    """A command's module cannot be imported (missing optional dependency or not in this build)."""


def _load_command(name: str) -> Any:
    target, _ = COMMANDS[name]
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if missing.split(".")[0] in _TORCH_MODULES:
            raise CommandUnavailable(
                f"the '{name}' command needs PyTorch, which is not installed: pip install 'starnet-trt[torch]'"
            ) from exc
        if missing == module_name:
            raise CommandUnavailable(f"the '{name}' command is not available in this build of starnet-trt") from exc
        raise CommandUnavailable(f"the '{name}' command cannot be loaded: {exc}") from exc
    return getattr(module, attr) if attr else module


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named on the command line (global options take no values, so it is the first word)."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only ``command``'s module is imported to add its options."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, description="STAR-Net scene-text recognition on ONNX Runtime and TensorRT."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            handler = _load_command(name)
            handler.add_arguments(sub_parser)
            sub_parser.set_defaults(_run=handler.run)
    return parser


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{PROG}: {record.levelname.lower()}: {record.getMessage()}"


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger("starnet_trt")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def printable(text: str) -> str:
    """``text`` with undecodable file-name bytes (surrogate escapes) shown as \\udcXX instead of crashing print."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _error(message: str) -> int:
    print(f"{PROG}: error: {printable(message)}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``starnet-trt`` command line; returns the exit status.

    Example:
        >>> main(["recognize", "word.png", "--model", "starnet_mv3.onnx"])  # doctest: +SKIP
        word.png	hello	0.9876
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get(_DEBUG_ENV, "") not in ("", "0")
    try:
        try:
            parser = build_parser(_command_of(argv))
        except CommandUnavailable as exc:
            return _error(str(exc))
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version, usage errors: argparse already printed
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        _configure_logging(args.verbose)
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (ValueError, TypeError, OSError, RuntimeError) as exc:
        if debug:
            raise
        return _error(str(exc))


# -- built-in commands -----------------------------------------------------------------------------------------


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", help="ONNX model or TensorRT engine (default: the bundled model)")
    parser.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        default="auto",
        help="inference backend (default: from the model's suffix; openvino only by name)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        help="openvino backend only: inference precision (default fp32; bf16/fp16 keep the spatial transformer in "
        "fp32, -all does not; bf16 needs AVX512-BF16 or AMX)",
    )
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per model run (default 32)")
    parser.add_argument("--threads", type=int, default=0, metavar="N", help="CPU threads, 0 = automatic (default)")


def _open_recognizer(args: argparse.Namespace, **kwargs: Any) -> Any:
    from .recognizer import Recognizer

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    return Recognizer(
        args.model,
        backend=args.backend,
        batch_size=args.batch_size,
        num_threads=args.threads,
        precision=args.precision,
        **kwargs,
    )


class RecognizeCommand:
    """``starnet-trt recognize IMG...|DIR``: one line ``path<TAB>text<TAB>confidence`` per image, or JSON."""

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "images",
            nargs="+",
            metavar="IMG|DIR",
            help="image files, or directories whose image files are read in name order",
        )
        _add_model_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print one JSON array of {path, text, confidence}")
        parser.add_argument(
            "--skip-errors",
            action="store_true",
            help="warn about unreadable images and go on (exit status 1 if any was skipped)",
        )

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from .images import list_image_files

        paths: list[str] = []
        for item in args.images:
            if os.path.isdir(item):
                found = list_image_files(item)
                if not found:
                    raise ValueError(f"no image files in directory {item!r}")
                paths.extend(str(p) for p in found)
            else:
                paths.append(item)
        skipped = 0
        records: list[dict[str, Any]] = []
        with _open_recognizer(args, on_error="skip" if args.skip_errors else "raise") as rec:
            step = rec.batch_size * 4  # print as we go on big folders
            for first in range(0, len(paths), step):
                chunk = paths[first : first + step]
                for path, result in zip(chunk, rec.recognize(chunk), strict=True):
                    if result is None:
                        skipped += 1
                    if args.json:
                        records.append(
                            {
                                "path": path,
                                "text": None if result is None else result.text,
                                "confidence": None if result is None else result.confidence,
                            }
                        )
                    elif result is not None:
                        print(printable(f"{path}\t{result.text}\t{result.confidence:.4f}"), flush=False)
        if args.json:
            print(printable(json.dumps(records, ensure_ascii=False)))
        return 1 if skipped else 0


class EvalCommand:
    """``starnet-trt eval --data GT.txt|LMDB``: word accuracy, NED, count and speed."""

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--data",
            required=True,
            metavar="GT.txt|LMDB_DIR",
            help="PaddleOCR label file (path<TAB>label) or an LMDB dataset folder",
        )
        _add_model_arguments(parser)
        parser.add_argument("--limit", type=int, default=None, metavar="N", help="evaluate the first N samples only")
        parser.add_argument(
            "--json", action="store_true", help='print one JSON object {"accuracy", "ned", "count", "images_per_s"}'
        )
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="progress bar on stderr (default: when stderr is a terminal)",
        )

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from .data.datasets import open_dataset
        from .evaluation import evaluate

        if args.limit is not None and args.limit < 0:
            raise ValueError(f"--limit must be >= 0, got {args.limit}")
        dataset = open_dataset(args.data)
        with _open_recognizer(args, on_error="skip") as rec:
            result = evaluate(
                rec,
                dataset,
                batch_size=max(64, rec.batch_size),
                limit=args.limit,
                progress=args.progress,
            )
        if result.failures:
            logging.getLogger("starnet_trt").warning(
                "%d of %d images could not be read and count as wrong", result.failures, result.count
            )
        if args.json:
            keys = ("accuracy", "ned", "count", "images_per_s")
            print(json.dumps({k: getattr(result, k) for k in keys}))
        else:
            print(f"word accuracy  {result.accuracy:.4f}")
            print(f"NED            {result.ned:.4f}")
            print(f"count          {result.count}")
            print(f"images/s       {result.images_per_s:.1f}")
        return 0


class InspectCommand:
    """``starnet-trt inspect MODEL``: what the model expects and says about itself."""

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("model", metavar="MODEL", help="ONNX model file")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from .inspect_model import format_inspection, inspect_model

        info = inspect_model(args.model)
        print(printable(json.dumps(info, ensure_ascii=False, indent=2) if args.json else format_inspection(info)))
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
