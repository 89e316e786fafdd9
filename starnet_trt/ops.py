"""Native preprocessing and CTC decoding with input validation.

Arguments are checked here, before the native core runs, so mistakes surface as ``TypeError`` / ``ValueError``
naming the offending batch index and the expected vs received value. The core re-checks everything itself and
raises ``ValueError`` rather than crashing, but its messages are terser.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from starnet_trt import _core

from .images import check_image

__all__ = ["ctc_beam_search_decode", "ctc_greedy_decode", "resize_normalize"]

_CHANNEL_ORDERS = ("bgr", "rgb")
_RESIZE_MODES = ("keep_ratio_pad_right", "stretch")
_GRAY_MODES = ("bt601", "pil")
_INTERPOLATIONS = ("linear", "pil_bicubic")
_UINT8 = np.dtype(np.uint8)


# One image validator for the whole package: the Recognizer checks entries with it before batching (to name
# or skip them), and direct callers of these ops get the same checks and messages.
_check_image = check_image


def _check_images(images: object) -> int:
    """Validates a list of images or an NxHxWxC batch; returns N."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ValueError(
                f"images: a single array must be an NxHxWxC batch (rank 4), got shape {images.shape}; "
                "wrap a single image in a list"
            )
        if images.dtype != np.uint8:
            raise TypeError(f"images: expected uint8 pixels, got dtype {images.dtype}")
        if images.shape[0] == 0:
            raise ValueError("images: expected at least one image, got an empty batch")
        _check_image(images[0], "images[0]")
        return images.shape[0]
    if not isinstance(images, (list, tuple)):
        raise TypeError(f"images: expected a list of numpy arrays or an NxHxWxC array, got {type(images).__name__}")
    if len(images) == 0:
        raise ValueError("images: expected at least one image, got an empty list")
    for i, img in enumerate(images):
        # Cheap test first (this loop runs per image on the hot path); the slow one builds the message.
        if (
            type(img) is not np.ndarray
            or img.dtype != _UINT8
            or not 2 <= img.ndim <= 3
            or not (img.shape[0] and img.shape[1])
            or (img.ndim == 3 and img.shape[2] not in (1, 3, 4))
        ):
            _check_image(img, f"images[{i}]")
    return len(images)


def resize_normalize(
    images: Sequence[np.ndarray] | np.ndarray,
    out: np.ndarray | None = None,
    *,
    height: int = 32,
    width: int = 100,
    channels: int = 3,
    channel_order: str = "bgr",
    num_threads: int = 0,
    resize: str = "keep_ratio_pad_right",
    gray: str = "bt601",
    interpolation: str = "linear",
) -> tuple[np.ndarray, np.ndarray]:
    """PaddleOCR ``resize_norm_img`` (or DTRB's ``ResizeNormalize``) for a whole batch in one native pass.

    Every image is resized to ``height`` keeping its aspect ratio (width ``min(ceil(height * w / h), width)``,
    bilinear exactly like ``cv2.resize(..., INTER_LINEAR)``), normalised with ``(v / 255 - 0.5) / 0.5`` and padded on
    the right with 0. Inputs may have any strides (slices, negative strides, read-only views): nothing is copied.

    Args:
        images: list of uint8 ``HxWxC`` (C = 1, 3 or 4) or ``HxW`` arrays, or one ``NxHxWxC`` array.
        out: optional C-contiguous float32 ``[N, channels, height, width]`` array to write into.
        height: model input height.
        width: model input width (maximum resized width).
        channels: 3 for BGR planes (what the model expects) or 1 for gray (see ``gray``).
        channel_order: channel order of the *input* images, ``"bgr"`` (OpenCV) or ``"rgb"``; the output planes are
            always BGR. Gray input is replicated; a 4th (alpha) channel is ignored.
        num_threads: worker threads over the batch; 0 uses all hardware threads (capped by N).
        resize: ``"keep_ratio_pad_right"`` (above) or ``"stretch"``: every image resized to exactly
            ``width x height``, no padding, as DTRB's ``ResizeNormalize``.
        gray: for ``channels=1``: ``"bt601"``, ``0.299 R + 0.587 G + 0.114 B`` of the resized values (not rounded),
            or ``"pil"``, PIL's ``convert("L")`` of each source pixel (``(19595 R + 38470 G + 7471 B + 0x8000) >>
            16``) before the resize, as DTRB feeds its gray models.
        interpolation: ``"linear"``, bit-exact ``cv2.resize(INTER_LINEAR)``, or ``"pil_bicubic"``, bit-exact
            ``PIL.Image.resize(..., BICUBIC)`` (antialiased when shrinking), DTRB's resize.

    Returns:
        ``(out, widths)``: the filled float32 batch and the int32 ``[N]`` valid (resized) widths.

    Raises:
        TypeError: ``images`` or an image, or ``out``, has the wrong type or dtype.
        ValueError: empty batch, bad shape, bad ``out`` geometry or an unknown ``channel_order``, ``resize`` or
            ``gray``.

    Example:
        >>> batch, widths = resize_normalize([np.zeros((64, 128, 3), np.uint8)])
        >>> batch.shape, widths.tolist()
        ((1, 3, 32, 100), [64])
    """
    n = _check_images(images)
    if channel_order not in _CHANNEL_ORDERS:
        raise ValueError(f"channel_order: expected one of {_CHANNEL_ORDERS}, got {channel_order!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels: expected 1 or 3, got {channels}")
    if resize not in _RESIZE_MODES:
        raise ValueError(f"resize: expected one of {_RESIZE_MODES}, got {resize!r}")
    if gray not in _GRAY_MODES:
        raise ValueError(f"gray: expected one of {_GRAY_MODES}, got {gray!r}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation: expected one of {_INTERPOLATIONS}, got {interpolation!r}")
    if gray == "pil" and channels != 1:
        raise ValueError(f"gray='pil' makes a 1-channel input: expected channels=1, got {channels}")
    if height < 1 or width < 1:
        raise ValueError(f"height and width: expected >= 1, got {height}x{width}")
    expected = (n, channels, height, width)
    if out is None:
        out = np.empty(expected, dtype=np.float32)
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out: expected a numpy array, got {type(out).__name__}")
        if out.dtype != np.float32:
            raise TypeError(f"out: expected dtype float32, got {out.dtype}")
        if out.shape != expected:
            raise ValueError(f"out: expected shape {expected}, got {out.shape}")
        if not out.flags.c_contiguous:
            raise ValueError("out: expected a C-contiguous array, got a strided view")
        if not out.flags.writeable:
            raise ValueError("out: expected a writeable array, got a read-only one")
    widths = _core.resize_normalize(images, out, channel_order, int(num_threads), resize, gray, interpolation)
    return out, widths


def _check_scores(scores: object, blank: object) -> None:
    if not isinstance(scores, np.ndarray):
        raise TypeError(f"scores: expected a numpy array, got {type(scores).__name__}")
    if scores.dtype not in (np.float32, np.float16):
        raise TypeError(f"scores: expected float32 or float16, got dtype {scores.dtype}")
    if scores.ndim != 3:
        raise ValueError(f"scores: expected shape (N, T, C) (rank 3), got shape {scores.shape}")
    classes = scores.shape[2]
    if isinstance(blank, bool) or not isinstance(blank, (int, np.integer)):
        raise TypeError(f"blank: expected an int, got {type(blank).__name__}")
    if not 0 <= blank < classes:
        raise ValueError(f"blank: expected 0 <= blank < {classes}, got {blank}")


def ctc_greedy_decode(
    scores: np.ndarray, blank: int = 0, num_threads: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CTC greedy decoding like PaddleOCR ``CTCLabelDecode`` (argmax, collapse repeats, drop blank, mean score).

    Args:
        scores: float32 or float16 ``[N, T, C]`` (softmax probabilities for PaddleOCR-compatible confidences);
            any strides.
        blank: class id of the CTC blank.
        num_threads: worker threads over N; 0 uses all hardware threads.

    Returns:
        ``(indices, lengths, confidences)``: int32 ``[N, T]`` kept class ids left-aligned and padded with -1,
        int32 ``[N]`` counts, float32 ``[N]`` mean of the kept maxima (0.0 when nothing is kept). Ties in the
        argmax go to the lowest class id, like ``numpy.argmax``.

    Raises:
        TypeError: ``scores`` is not a float32/float16 numpy array.
        ValueError: wrong rank, ``blank`` out of range, or NaN in a sample (the message names the sample).

    Example:
        >>> idx, n, conf = ctc_greedy_decode(np.eye(3, dtype=np.float32)[None, [1, 1, 0, 1, 2]])
        >>> idx[0, : n[0]].tolist(), conf.tolist()
        ([1, 1, 2], [1.0])
    """
    _check_scores(scores, blank)
    return _core.ctc_greedy_decode(scores, int(blank), int(num_threads))


def ctc_beam_search_decode(
    scores: np.ndarray, beam_width: int = 10, blank: int = 0, num_threads: int = 0
) -> list[tuple[list[int], float]]:
    """CTC prefix beam search (Hannun et al. 2014) on per-step probabilities, CPU only.

    Unlike greedy decoding it sums the probability of every alignment that collapses to the same text, which can
    pick a different (more probable) text when the model hesitates between characters.

    Args:
        scores: float32 or float16 ``[N, T, C]`` softmax probabilities (not logits); any strides.
        beam_width: prefixes kept per time step (>= 1).
        blank: class id of the CTC blank.
        num_threads: worker threads over N; 0 uses all hardware threads.

    Returns:
        For each sample, the most probable ``(class ids, natural-log probability)``; ties in the pruning order go
        to the lexicographically smaller prefix.

    Raises:
        TypeError: ``scores`` is not a float32/float16 numpy array.
        ValueError: wrong rank, ``blank`` or ``beam_width`` out of range, NaN or negative scores (the message names
            the sample).

    Example:
        >>> probs = np.array([[[0.4, 0.6], [0.4, 0.6]]], np.float32)
        >>> ids, logp = ctc_beam_search_decode(probs)[0]
        >>> ids, round(float(np.exp(logp)), 2)
        ([1], 0.84)
    """
    _check_scores(scores, blank)
    if isinstance(beam_width, bool) or not isinstance(beam_width, (int, np.integer)):
        raise TypeError(f"beam_width: expected an int, got {type(beam_width).__name__}")
    if beam_width < 1:
        raise ValueError(f"beam_width: expected >= 1, got {beam_width}")
    return _core.ctc_beam_search_decode(scores, int(beam_width), int(blank), int(num_threads))


def tps_grid_sample(
    image: np.ndarray,
    fiducials: np.ndarray,
    out_height: int,
    out_width: int,
    align_corners: bool = True,
    padding_mode: str = "zeros",
    num_threads: int = 0,
    table: np.ndarray | None = None,
) -> np.ndarray:
    """STAR-Net TPS rectification, the CPU twin of the ``StarNetTPSGridSample`` plugin and its CUDA kernel.

    Each output pixel evaluates its row of the TPS matrix (radial basis on the fly, in double), forms its grid
    point from the sample's fiducials and samples ``image`` bilinearly like ONNX ``GridSample``; equal to the
    reference model's constant-matrix grid + ``grid_sample`` within float32 rounding.

    Args:
        image: float32 or float16 ``[N, C, H, W]``.
        fiducials: float32 or float16 ``[N, F, 2]`` predicted control points (x, y) in [-1, 1]; F even, 4..32.
        out_height, out_width: rectified size (any size; STAR-Net uses the input's).
        align_corners: ONNX ``GridSample`` ``align_corners`` (STAR-Net/Paddle: True).
        padding_mode: ``"zeros"`` (STAR-Net) or ``"border"``.
        num_threads: worker threads over N; 0 uses all hardware threads.
        table: optional float32 ``[out_height * out_width, F]`` matrix ``A`` (grid = ``A @ fiducials``) used
            instead of STAR-Net's TPS matrix: the plugin's table mode, where ``A`` is the exported model's own
            constant (its third input).

    Returns:
        ``[N, C, out_height, out_width]`` in the image's dtype.

    Raises:
        TypeError: a non-array argument.
        ValueError: a wrong dtype, shape, size or mode (the message names it).

    Example:
        >>> from starnet_trt.model.tps import initial_fiducials  # doctest: +SKIP
        >>> tps_grid_sample(np.zeros((1, 3, 32, 100), np.float32), initial_fiducials(20)[None].astype(np.float32),
        ...                 32, 100).shape  # doctest: +SKIP
        (1, 3, 32, 100)
    """
    for name, value in (("out_height", out_height), ("out_width", out_width), ("num_threads", num_threads)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    return _core.tps_grid_sample(
        image,
        fiducials,
        int(out_height),
        int(out_width),
        bool(align_corners),
        str(padding_mode),
        int(num_threads),
        table,
    )
