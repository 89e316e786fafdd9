"""Recognize the text of cropped word images with a STAR-Net model (PaddleOCR v2.0 semantics).

The pipeline per batch: read/validate entries -> ``ops.resize_normalize`` writes the whole batch straight into
the backend's input buffer -> backend run -> ``ops.ctc_greedy_decode`` -> charset lookup. No image is copied
in Python on the way; very wide or tall images are resized by the native op without full-size copies.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from itertools import islice
from pathlib import Path
from typing import Any, Union

import numpy as np

from . import argcheck
from .backends import BACKEND_NAMES, Backend, TensorInfo, open_backend
from .images import check_image, is_path, read_image
from .metadata import ModelInfo
from .results import Result

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "models" / "starnet_mv3.onnx"
"""Where the bundled default model lives (package data); absent in builds that do not ship one."""

ImageInput = Union[str, "os.PathLike[str]", np.ndarray]
"""One word image: a file path, or a ``uint8`` array ``HxW`` / ``HxWxC`` (C 1, 3 or 4; BGR order)."""

ON_ERROR_MODES = ("raise", "skip")

# The native resize_normalize op computes (x / 255 - 0.5) / 0.5, PaddleOCR's and DTRB's normalization.
_NATIVE_NORMALIZATION = (1.0 / 255.0, 0.5, 0.5)


@dataclass
class StageTimes:
    """Seconds spent per pipeline stage, summed over calls (``time.perf_counter``; a few calls per batch).

    Attributes:
        read: Reading and decoding image files given as paths.
        preprocess: ``resize_normalize`` into the input buffer (the per-entry Python checks before it, a few
            microseconds per image, are not included).
        inference: The backend run (ONNX Runtime ``run_with_iobinding``).
        decode: Softmax for logit models, ``ctc_greedy_decode`` and the charset lookup.
        batches: Backend runs.
        images: Images recognized (skipped entries not counted).
    """

    read: float = 0.0
    preprocess: float = 0.0
    inference: float = 0.0
    decode: float = 0.0
    batches: int = 0
    images: int = 0

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _resolve_model_path(model: object) -> str:
    if model is None:
        if not DEFAULT_MODEL_PATH.is_file():
            raise FileNotFoundError(
                "no default model is bundled in this build of starnet-trt; pass a model path, "
                "e.g. Recognizer('starnet_mv3.onnx')"
            )
        return str(DEFAULT_MODEL_PATH)
    if not isinstance(model, (str, bytes, os.PathLike)):
        raise TypeError(f"model must be a path (str or os.PathLike) or None, got {type(model).__name__}")
    path = os.fsdecode(os.fspath(model))
    if os.path.isdir(path):
        raise IsADirectoryError(f"model must be a .onnx or .engine file, got a directory: {path!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path!r}")
    return path


def _check_on_error(on_error: object) -> str:
    if on_error not in ON_ERROR_MODES:
        raise ValueError(f"on_error must be one of {list(ON_ERROR_MODES)}, got {on_error!r}")
    return str(on_error)


def _with_name(exc: Exception, name: str) -> Exception:
    """The same kind of exception with ``name`` in front of its message (e.g. which image failed)."""
    try:
        return type(exc)(f"{name}: {exc}")
    except Exception:  # exception types with unusual constructors keep their own message
        return exc


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=-1, keepdims=True)
    return shifted


class Recognizer:
    """Recognizes the text of cropped word images with a STAR-Net ONNX model or TensorRT engine.

    The model file describes itself (charset, preprocessing) in its metadata, so nothing else is needed.
    Images are processed in batches of ``batch_size``.

    Threads: ``recognize`` may be called from several threads; calls on one instance are serialized by a lock
    because the instance owns its input/output buffers. For parallel throughput use one ``Recognizer`` per
    thread (or raise ``num_threads``).

    Args:
        model: Path to a ``.onnx`` model or ``.engine`` file; ``None`` uses the model bundled with the package
            (``FileNotFoundError`` if this build has none).
        backend: ``"auto"`` (from the suffix: ``.onnx`` -> ONNX Runtime, ``.engine`` -> TensorRT),
            ``"onnxruntime"``, ``"openvino"`` (OpenVINO on the CPU; ``pip install 'starnet-trt[openvino]'``) or
            ``"tensorrt"``.
        batch_size: Images per backend run (sizes the preallocated buffers).
        num_threads: Threads for ONNX Runtime and the native pre/post-processing. 0: ONNX Runtime's default for
            inference and one thread (the caller's) for pre/post-processing, which at recognition batch sizes
            is faster than spawning workers (they start per batch) and leaves the cores to ONNX Runtime.
        providers: ONNX Runtime execution providers, as ``InferenceSession`` takes them; ``None`` uses the
            TensorRT/CUDA providers when this ONNX Runtime has them, else the CPU.
        on_error: Default for :meth:`recognize`: ``"raise"`` on a bad entry, or ``"skip"`` it (result ``None``).
        precision: The openvino backend's inference precision: ``"fp32"`` (default; ONNX Runtime's texts) or
            ``"bf16"`` (about 1.8x faster on CPUs with AVX512-BF16 or AMX, a few texts differ). ``None`` for the
            other backends, which run their file's precision.

    Raises:
        TypeError: An argument has the wrong type.
        FileNotFoundError: The model file does not exist (or no default model is bundled).
        ValueError: The model cannot be loaded, lacks starnet-trt metadata, or disagrees with it (e.g. the
            charset size vs. the output's class count).
        RuntimeError: The TensorRT backend cannot run here: this build lacks its C++ runtime, or TensorRT, the
            plugin library or a CUDA GPU is missing (the message says which and how to fix it).

    Example:
        >>> with Recognizer("starnet_mv3.onnx") as rec:  # doctest: +SKIP
        ...     [r.text for r in rec.recognize(["word1.png", "word2.png"])]
        ['hello', 'world']
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        backend: str = "auto",
        batch_size: int = 32,
        num_threads: int = 0,
        providers: Sequence[str | tuple[str, dict[str, Any]]] | None = None,
        on_error: str = "raise",
        precision: str | None = None,
    ) -> None:
        self._backend: Backend | None = None
        path = _resolve_model_path(model)
        if not isinstance(backend, str) or backend not in BACKEND_NAMES:
            raise ValueError(f"backend must be one of {list(BACKEND_NAMES)}, got {backend!r}")
        batch_size = argcheck.require_int(batch_size, "batch_size", 1)
        self._num_threads = argcheck.require_int(num_threads, "num_threads", 0)
        self._prepost_threads = self._num_threads or 1
        if providers is not None and (isinstance(providers, str) or not isinstance(providers, (list, tuple))):
            raise TypeError(f"providers must be a list of provider names or None, got {type(providers).__name__}")
        self._on_error = _check_on_error(on_error)

        try:
            from . import ops
        except ImportError as exc:
            raise RuntimeError(f"starnet-trt's native core is not available in this installation: {exc}") from exc
        self._ops = ops

        self._backend = open_backend(
            path,
            backend,
            max_batch=batch_size,
            num_threads=self._num_threads,
            providers=providers,
            precision=precision,
        )
        self._model_path = path
        self._check_preprocess(self._backend.metadata)
        charset = self._backend.metadata.charset
        # Index 0 (blank) and padding (-1 mapped to 0) become "\0", which the U-string view below drops.
        self._char_table = np.array(["\0", *charset], dtype="U1")
        self._lock = threading.Lock()
        self._times = StageTimes()

    @staticmethod
    def _check_preprocess(info: ModelInfo) -> None:
        pre = info.preprocess
        got = (pre.scale, pre.mean, pre.std)
        if not all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(got, _NATIVE_NORMALIZATION, strict=True)):
            raise ValueError(
                f"model preprocessing scale/mean/std {got} is not supported: expected "
                f"(1/255, 0.5, 0.5), i.e. (x / 255 - 0.5) / 0.5"
            )

    # -- description -------------------------------------------------------------------------------------------

    @property
    def _open_backend(self) -> Backend:
        if self._backend is None:
            raise RuntimeError("this Recognizer has been closed")
        return self._backend

    @property
    def inputs(self) -> list[TensorInfo]:
        """Model inputs (name, shape, type), like ``InferenceSession.get_inputs()``."""
        return self._open_backend.inputs

    @property
    def outputs(self) -> list[TensorInfo]:
        """Model outputs (name, shape, type), like ``InferenceSession.get_outputs()``."""
        return self._open_backend.outputs

    @property
    def metadata(self) -> ModelInfo:
        """The model's charset, preprocessing and architecture, read from the model file."""
        return self._open_backend.metadata

    @property
    def backend_name(self) -> str:
        """``"onnxruntime"``, ``"openvino"`` or ``"tensorrt"``."""
        return self._open_backend.name

    @property
    def providers(self) -> list[str]:
        """Where the model runs (ONNX Runtime execution providers in use)."""
        return self._open_backend.providers

    @property
    def model_path(self) -> str:
        """The model file this recognizer runs."""
        return self._model_path

    @property
    def batch_size(self) -> int:
        """Images per backend run (a model with a fixed batch dimension imposes its own)."""
        return self._open_backend.max_batch

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage summed since construction or :meth:`reset_timings` (see :class:`StageTimes`)."""
        return self._times.as_dict()

    def reset_timings(self) -> None:
        """Zero the per-stage timers."""
        self._times = StageTimes()

    # -- lifetime ----------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the model and buffers. Idempotent; using the recognizer afterwards raises ``RuntimeError``."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> Recognizer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._backend is None else self._backend.name
        return f"Recognizer({self._model_path!r}, backend={state!r})"

    # -- recognition -------------------------------------------------------------------------------------------

    def recognize(
        self,
        images: ImageInput | Iterable[ImageInput],
        *,
        on_error: str | None = None,
        return_char_probs: bool = False,
    ) -> list[Result | None]:
        """Recognize the text of word images.

        Always returns a list, one entry per image in input order: a single image (a path or a 2-D/3-D array)
        gives a list of one ``Result`` (like PaddleOCR's recognizer and ``InferenceSession.run``); see
        :meth:`recognize_one` for a bare ``Result``.

        Args:
            images: One image or many: a path; a ``uint8`` array ``HxW`` (gray) or ``HxWxC`` (C 1, 3 or 4: gray,
                BGR, BGRA as OpenCV gives them); a ``uint8`` ``NxHxWxC`` batch array; or a list/iterable mixing
                paths and arrays. Arrays may be non-contiguous or read-only. Iterables are consumed one batch
                at a time, so a generator of paths never holds more than ``batch_size`` decoded images.
            on_error: ``"raise"`` (an exception naming the bad entry) or ``"skip"`` (its result is ``None``, the
                other entries are unaffected and a warning is logged); ``None`` uses the constructor's default.
                An ``NxHxWxC`` batch array is checked as a whole (its images share dtype and shape), so a bad one
                raises in either mode.
            return_char_probs: Also fill ``Result.char_probs`` with each character's probability.

        Returns:
            ``Result`` per image (``None`` for skipped entries).

        Raises:
            TypeError: An entry is neither a path nor an array, or is not ``uint8``.
            ValueError: An entry has a wrong shape, is empty, or a file is not a decodable image.
            FileNotFoundError: A path does not exist. ``IsADirectoryError``: a path is a directory.

        Example:
            >>> results = rec.recognize(["a.png", cv2.imread("b.png")])  # doctest: +SKIP
            >>> results[0].text, results[0].confidence  # doctest: +SKIP
            ('hello', 0.97)
        """
        mode = self._on_error if on_error is None else _check_on_error(on_error)
        with self._lock:
            results: list[Result | None] = []
            for batch in self._batches(images, mode, return_char_probs):
                results.extend(batch)
            return results

    def recognize_iter(
        self,
        images: ImageInput | Iterable[ImageInput],
        *,
        on_error: str | None = None,
        return_char_probs: bool = False,
    ) -> Iterator[Result | None]:
        """Like :meth:`recognize`, but yields the results in input order as each batch finishes.

        For streams too long to hold their results (a generator of a million paths, say): memory stays bounded
        by one batch of images and one batch of results, whatever the stream's length. Input entries are
        consumed lazily, one batch at a time; the recognizer's lock is held per batch, so other threads may use
        it between batches.

        Example:
            >>> for path, result in zip(paths, rec.recognize_iter(paths)):  # doctest: +SKIP
            ...     print(path, result.text)
        """
        mode = self._on_error if on_error is None else _check_on_error(on_error)
        batches = self._batches(images, mode, return_char_probs)
        while True:
            with self._lock:
                batch = next(batches, None)
            if batch is None:
                return
            yield from batch

    def _batches(self, images: object, mode: str, char_probs: bool) -> Iterator[list[Result | None]]:
        """Results of ``images``, one list per backend batch (callers hold the lock around each ``next``)."""
        backend = self._open_backend
        if isinstance(images, np.ndarray) and images.ndim == 4:
            self._check_batch_array(images)
            for start in range(0, images.shape[0], backend.max_batch):
                yield self._run_array_batch(images[start : start + backend.max_batch], char_probs)
            return
        start = 0
        entries = self._iter_entries(images)
        while True:
            chunk = list(islice(entries, backend.max_batch))
            if not chunk:
                return
            yield self._run_entries(chunk, start, mode, char_probs)
            start += len(chunk)

    def recognize_one(self, image: ImageInput, *, return_char_probs: bool = False) -> Result:
        """Recognize a single word image (a path or an array) and return its ``Result``; errors always raise.

        Example:
            >>> rec.recognize_one("word.png").text  # doctest: +SKIP
            'hello'
        """
        if not (is_path(image) or isinstance(image, np.ndarray)) or (isinstance(image, np.ndarray) and image.ndim == 4):
            raise TypeError(f"recognize_one takes one image (a path or an HxW/HxWxC array), got {type(image).__name__}")
        result = self.recognize(image, on_error="raise", return_char_probs=return_char_probs)[0]
        assert result is not None  # on_error="raise" never yields None
        return result

    @staticmethod
    def _iter_entries(images: object) -> Iterator[object]:
        if is_path(images):
            return iter([images])
        if isinstance(images, np.ndarray):
            return iter([images])  # one HxW / HxWxC image; check_image reports other ranks
        if isinstance(images, (bytes, bytearray, memoryview)):
            raise TypeError("images must be paths or uint8 arrays; to use encoded bytes, decode with cv2.imdecode")
        if isinstance(images, Iterable) and not isinstance(images, (dict, set, frozenset)):
            return iter(images)
        raise TypeError(f"images must be a path, a uint8 array, or a list of them, got {type(images).__name__}")

    @staticmethod
    def _check_batch_array(images: np.ndarray) -> None:
        if images.dtype != np.uint8:
            raise TypeError(f"expected a uint8 NxHxWxC batch, got dtype {images.dtype}")
        if images.shape[3] not in (1, 3, 4):
            raise ValueError(f"expected an NxHxWxC batch with C 1, 3 or 4, got shape {images.shape}")
        if images.shape[1] < 1 or images.shape[2] < 1:
            raise ValueError(f"expected non-empty images, got a batch of shape {images.shape}")

    def _run_entries(self, chunk: list[object], start: int, mode: str, char_probs: bool) -> list[Result | None]:
        """Load and validate ``chunk`` (entries ``start``...), then recognize the good ones in one batch."""
        times = self._times
        out: list[Result | None] = [None] * len(chunk)
        good_pos: list[int] = []
        arrays: list[np.ndarray] = []
        for k, entry in enumerate(chunk):
            name = f"image {start + k}"
            try:
                if is_path(entry):
                    t0 = time.perf_counter()
                    try:
                        img = read_image(entry)  # its messages name the path
                    except (ValueError, OSError) as exc:
                        raise _with_name(exc, name) from None
                    finally:
                        times.read += time.perf_counter() - t0
                else:
                    img = entry
                    check_image(img, name)
            except (TypeError, ValueError, OSError) as exc:
                if mode == "raise":
                    raise exc from None
                logger.warning("skipping %s", exc)
                continue
            good_pos.append(k)
            arrays.append(img)  # type: ignore[arg-type]
        if not arrays:
            return out
        if self._open_backend.decodes_on_device:
            for k, result in zip(good_pos, self._device_decode(arrays, char_probs), strict=True):
                out[k] = result
            return out
        good_pos, n = self._preprocess(arrays, good_pos, start, mode)
        if n:
            for k, result in zip(good_pos, self._infer_decode(n, char_probs), strict=True):
                out[k] = result
        return out

    def _resize_kwargs(self) -> dict[str, Any]:
        pre = self._open_backend.metadata.preprocess
        # channel_order is the order of the *input* pixels: ours are BGR (OpenCV) by contract. The op writes BGR
        # planes for 3-channel models and gray for 1-channel ones (DTRB's PIL gray for its stretched inputs).
        return {**pre.resize_kwargs(), "channel_order": "bgr", "num_threads": self._prepost_threads}

    def _preprocess(
        self, arrays: list[np.ndarray], positions: list[int], start: int, mode: str
    ) -> tuple[list[int], int]:
        """Resize/normalize ``arrays`` into the input buffer; returns the positions kept and their count."""
        backend = self._open_backend
        kwargs = self._resize_kwargs()
        t0 = time.perf_counter()
        try:
            self._ops.resize_normalize(arrays, out=backend.input_buffer(len(arrays)), **kwargs)
            return positions, len(arrays)
        except (TypeError, ValueError):
            # Our checks passed but the native op refused something: redo entry by entry to name (or skip) it.
            kept: list[int] = []
            for pos, img in zip(positions, arrays, strict=True):
                row = len(kept)
                try:
                    self._ops.resize_normalize([img], out=backend.input_buffer(row + 1)[row:], **kwargs)
                except (TypeError, ValueError) as exc:
                    exc = _with_name(exc, f"image {start + pos}")
                    if mode == "raise":
                        raise exc from None
                    logger.warning("skipping %s", exc)
                    continue
                kept.append(pos)
            return kept, len(kept)
        finally:
            self._times.preprocess += time.perf_counter() - t0

    def _run_array_batch(self, batch: np.ndarray, char_probs: bool) -> list[Result | None]:
        backend = self._open_backend
        if backend.decodes_on_device:
            return list(self._device_decode(batch, char_probs))
        n = batch.shape[0]
        t0 = time.perf_counter()
        self._ops.resize_normalize(batch, out=backend.input_buffer(n), **self._resize_kwargs())
        self._times.preprocess += time.perf_counter() - t0
        return list(self._infer_decode(n, char_probs))

    def _infer_decode(self, n: int, char_probs: bool) -> list[Result]:
        """Run the first ``n`` rows of the input buffer and decode them."""
        backend = self._open_backend
        times = self._times
        t0 = time.perf_counter()
        scores = backend.run(n)
        t1 = time.perf_counter()
        if backend.metadata.output == "logits":
            scores = _softmax(scores)  # argmax is unchanged; confidences need probabilities
        indices, _lengths, confidences = self._ops.ctc_greedy_decode(
            scores, blank=backend.metadata.blank_index, num_threads=self._prepost_threads
        )
        texts = self._texts(indices)
        probs = self._char_probs(scores) if char_probs else [None] * n
        results = [Result(t, float(c), p) for t, c, p in zip(texts, confidences.tolist(), probs, strict=True)]
        times.inference += t1 - t0
        times.decode += time.perf_counter() - t1
        times.batches += 1
        times.images += n
        return results

    def _texts(self, indices: np.ndarray) -> list[str]:
        """[n, T] class indices (-1 padded) -> n strings."""
        n = indices.shape[0]
        # [n, T] class indices -> [n, T] single characters -> one fixed-width string per row: NumPy drops the
        # trailing "\0" of blanks and padding, so no Python loop over time steps.
        table_idx = np.where(indices > 0, indices, 0)
        chars = np.ascontiguousarray(self._char_table[table_idx])
        return chars.view(f"<U{chars.shape[1]}").reshape(n).tolist() if chars.shape[1] else [""] * n

    def _device_decode(self, images: list[np.ndarray] | np.ndarray, char_probs: bool) -> list[Result]:
        """Backends that preprocess, run and decode on the GPU (TensorRT): raw images in, results out."""
        if char_probs:
            raise ValueError(
                "return_char_probs needs the model's scores, which the TensorRT backend decodes on the GPU and "
                "never copies back; use the ONNX model (backend='onnxruntime') for per-character probabilities"
            )
        backend = self._open_backend
        t0 = time.perf_counter()
        indices, _lengths, confidences = backend.run_images(images)
        t1 = time.perf_counter()
        results = [Result(t, float(c), None) for t, c in zip(self._texts(indices), confidences.tolist(), strict=True)]
        times = self._times
        times.inference += t1 - t0  # GPU preprocess + engine + decode, one synchronized call
        times.decode += time.perf_counter() - t1
        times.batches += 1
        times.images += len(results)
        return results

    def _char_probs(self, scores: np.ndarray) -> list[tuple[float, ...] | None]:
        """Probability of each decoded character: the max probability at each kept time step."""
        blank = self._open_backend.metadata.blank_index
        best = scores.argmax(axis=2)
        best_prob = np.take_along_axis(scores, best[:, :, None], axis=2)[:, :, 0]
        keep = best != blank
        keep[:, 1:] &= best[:, 1:] != best[:, :-1]
        return [tuple(best_prob[i, keep[i]].tolist()) for i in range(scores.shape[0])]
