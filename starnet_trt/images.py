"""Loading and validating the word images users hand to the recognizer.

Validation happens here, in Python, before native code sees the arrays: error messages name the entry (its
index or its path) and say what was expected, and ``on_error="skip"`` can drop exactly the bad entry.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import cv2
import numpy as np

from . import limits

PathLike = Union[str, "os.PathLike[str]"]

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".bmp", ".dib", ".jpg", ".jpeg", ".jpe", ".jp2", ".png", ".webp", ".pbm", ".pgm", ".ppm", ".pnm", ".tif", ".tiff"}
)
"""File name suffixes (lowercase) treated as images when a directory is expanded."""


def is_path(obj: object) -> bool:
    """Whether ``obj`` is a file system path (``str`` or ``os.PathLike``), as opposed to an image array."""
    return isinstance(obj, (str, os.PathLike))


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as a BGR ``uint8`` ``HxWx3`` array, the way PaddleOCR does (``IMREAD_COLOR``).

    The bytes are read with NumPy and decoded with ``cv2.imdecode``, so file names that are not valid in the
    platform's narrow encoding (any Unicode name on Windows) work.

    Args:
        path: The image file.

    Returns:
        The decoded image (gray and RGBA files are converted to 3-channel BGR).

    Raises:
        TypeError: ``path`` is not a ``str`` or ``os.PathLike``.
        FileNotFoundError: The file does not exist.
        IsADirectoryError: ``path`` is a directory.
        ValueError: The file is empty, is not an image OpenCV can decode, or is over the size limits of
            :mod:`starnet_trt.limits` (file bytes, or pixels declared by its header: checked before decoding).

    Example:
        >>> img = read_image("word.png")  # doctest: +SKIP
    """
    if not is_path(path):
        raise TypeError(f"expected an image path (str or os.PathLike), got {type(path).__name__}")
    fspath = os.fspath(path)
    if isinstance(fspath, bytes):
        fspath = os.fsdecode(fspath)
    if os.path.isdir(fspath):
        raise IsADirectoryError(f"expected an image file, got a directory: {fspath!r}")
    if not os.path.exists(fspath):
        raise FileNotFoundError(f"image file not found: {fspath!r}")
    limits.check_file_size(fspath, limits.MAX_IMAGE_FILE_BYTES, "image file")
    data = np.fromfile(fspath, dtype=np.uint8)
    if data.size == 0:
        raise ValueError(f"cannot decode image {fspath!r}: the file is empty")
    limits.check_image_header(data.data, f"image {fspath!r}")
    try:
        img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ValueError(f"cannot decode image {fspath!r}: {exc}") from None
    if img is None or img.size == 0:
        raise ValueError(f"cannot decode image {fspath!r}: not an image or an unsupported format")
    return img


def check_image(img: object, name: str) -> None:
    """Check that ``img`` is a word image the preprocessing accepts; raise naming ``name`` otherwise.

    Accepted: ``uint8`` arrays ``HxW`` (gray) or ``HxWxC`` with C 1 (gray), 3 (BGR) or 4 (BGRA, alpha ignored),
    H and W at least 1, any strides, read-only or not.

    Args:
        img: The candidate image.
        name: How to name the entry in messages (``"image 3"``, ``"'a.png'"``).

    Raises:
        TypeError: Not a NumPy array, or not ``uint8``.
        ValueError: Wrong rank, channel count, or an empty image.
    """
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array (uint8) or an image path, got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise TypeError(f"{name}: expected uint8 pixels, got dtype {img.dtype} (convert with img.astype(np.uint8))")
    if img.ndim not in (2, 3):
        raise ValueError(f"{name}: expected an HxW or HxWxC image (rank 2 or 3), got an array of shape {img.shape}")
    if img.ndim == 3 and img.shape[2] not in (1, 3, 4):
        raise ValueError(f"{name}: expected 1, 3 or 4 channels (gray/BGR/BGRA), got {img.shape[2]} (shape {img.shape})")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"{name}: expected a non-empty image, got shape {img.shape}")


def list_image_files(directory: PathLike) -> list[Path]:
    """Image files directly inside ``directory`` (by suffix, see :data:`IMAGE_EXTENSIONS`), sorted by name.

    Raises:
        FileNotFoundError: ``directory`` does not exist.
        NotADirectoryError: ``directory`` is a file.
    """
    root = Path(os.fspath(directory))
    if not root.exists():
        raise FileNotFoundError(f"directory not found: {str(root)!r}")
    if not root.is_dir():
        raise NotADirectoryError(f"expected a directory, got a file: {str(root)!r}")
    return sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
