"""Word-image datasets shared by training and evaluation.

Two on-disk formats are supported, both yielding ``(image, label)`` pairs where
``image`` is an ``HxWx3`` uint8 BGR array (``None`` if the bytes cannot be decoded, so
the caller decides whether to skip or count it as an error) and ``label`` is the stored
string with original case and symbols:

* PaddleOCR ``SimpleDataSet`` label files: lines ``<relative/path>\\t<label>``, paths
  relative to the folder holding the ``.txt``.
* DTRB / PaddleOCR LMDB (see :mod:`starnet_trt.data.lmdb_io`).

Use :func:`open_dataset` to pick the right class from a path.
"""

from __future__ import annotations

import os
import posixpath
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from starnet_trt import limits
from starnet_trt.data.lmdb_io import LmdbReader, image_key


def decode_image(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray | None:
    """Decode encoded image bytes to ``HxWx3`` uint8 BGR, or None if undecodable.

    Greyscale and alpha images are converted to 3-channel BGR (alpha is dropped, as
    PaddleOCR's ``DecodeImage`` does). Data over :mod:`starnet_trt.limits` (bytes, or pixels declared by the
    header) counts as undecodable and is never decoded.
    """
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
    if buf.size == 0 or buf.size > limits.MAX_IMAGE_FILE_BYTES:
        return None
    dims = limits.image_dimensions(buf.data)
    if dims is not None and dims[0] * dims[1] > limits.MAX_IMAGE_PIXELS:
        return None  # a decompression bomb: as undecodable as a corrupt file
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        return None
    return img


@runtime_checkable
class Dataset(Protocol):
    """What training and evaluation rely on."""

    name: str

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> tuple[np.ndarray | None, str]: ...

    @property
    def keys(self) -> list[str]: ...


def _check_index(i: int, n: int) -> int:
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise IndexError(f"index {i} out of range for dataset of {n} samples")
    return i


def safe_relative_path(rel: str, *, where: str = "") -> str:
    """Validate a dataset-relative image path and normalize it to POSIX form.

    Args:
        rel: Path as written in the label file.
        where: Location for the error message (``file:line``).

    Returns:
        The normalized relative path.

    Raises:
        ValueError: Absolute path, drive letter, or a ``..`` that escapes the dataset
            folder: a label file must not make us read arbitrary files.
    """
    p = rel.replace("\\", "/")
    if p.startswith("/") or os.path.isabs(rel) or (len(p) > 1 and p[1] == ":"):
        raise ValueError(f"{where}absolute image path not allowed: {rel!r}")
    norm = posixpath.normpath(p)
    if norm == ".." or norm.startswith("../"):
        raise ValueError(f"{where}image path escapes the dataset folder: {rel!r}")
    if norm in ("", "."):
        raise ValueError(f"{where}empty image path")
    return norm


class LabelFileDataset:
    """A PaddleOCR label file: ``<path>\\t<label>`` per line, paths relative to its folder."""

    def __init__(self, gt_txt: str | os.PathLike[str], *, strict: bool = True, check_files: bool = True) -> None:
        """Parse the label file.

        Args:
            gt_txt: The ``.txt`` label file.
            strict: Raise on a malformed line (no tab, empty path) or a missing image;
                when false such lines are skipped with one warning summarizing them.
                Unsafe paths (absolute, escaping ``..``) always raise.
            check_files: Check at load time that every image exists.

        Raises:
            FileNotFoundError: ``gt_txt`` (or, if strict, an image) does not exist.
            ValueError: Malformed or non-UTF-8 line (strict) or unsafe path, with ``file:line``.
        """
        self.path = Path(gt_txt)
        if not self.path.is_file():
            raise FileNotFoundError(f"label file not found: {self.path}")
        self.root = self.path.parent
        self.name = f"{self.root.name}/{self.path.stem}" if self.root.name else self.path.stem
        self._items: list[tuple[str, str]] = []
        skipped: list[str] = []
        with open(self.path, "rb") as fh:  # bytes, so a non-UTF-8 line is reported with its number
            for lineno, raw_bytes in enumerate(fh, 1):
                where = f"{self.path}:{lineno}: "
                try:
                    raw = raw_bytes.decode("utf-8-sig" if lineno == 1 else "utf-8")  # -sig: tolerate a BOM
                except UnicodeDecodeError as exc:
                    msg = f"{where}not UTF-8 text ({exc.reason} at byte {exc.start})"
                    if strict:
                        raise ValueError(msg) from None
                    skipped.append(msg)
                    continue
                line = raw.rstrip("\r\n")
                if not line.strip():
                    continue
                rel, sep, label = line.partition("\t")
                if not sep or not rel.strip():
                    msg = f"{where}expected '<image path>\\t<label>', got {line[:80]!r}"
                    if strict:
                        raise ValueError(msg)
                    skipped.append(msg)
                    continue
                rel = safe_relative_path(rel.strip(), where=where)
                if check_files and not (self.root / rel).is_file():
                    msg = f"{where}image not found: {self.root / rel}"
                    if strict:
                        raise FileNotFoundError(msg)
                    skipped.append(msg)
                    continue
                self._items.append((rel, label))
        if skipped:
            warnings.warn(f"{self.path}: skipped {len(skipped)} bad line(s); first: {skipped[0]}", stacklevel=2)
        self.skipped = skipped

    def __len__(self) -> int:
        return len(self._items)

    @property
    def keys(self) -> list[str]:
        """Image paths relative to the label file's folder, in file order."""
        return [rel for rel, _ in self._items]

    @property
    def labels(self) -> list[str]:
        """Labels in file order (no image decoding)."""
        return [lab for _, lab in self._items]

    def __getitem__(self, i: int) -> tuple[np.ndarray | None, str]:
        rel, label = self._items[_check_index(i, len(self._items))]
        try:
            path = self.root / rel
            if path.stat().st_size > limits.MAX_IMAGE_FILE_BYTES:
                return None, label
            data = path.read_bytes()
        except OSError:
            return None, label
        return decode_image(data), label

    def __iter__(self) -> Iterator[tuple[np.ndarray | None, str]]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"LabelFileDataset({str(self.path)!r}, n={len(self)})"


class LmdbDataset:
    """A DTRB/PaddleOCR LMDB (``num-samples``, ``image-%09d``, ``label-%09d``, 1-based)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open the LMDB read-only.

        Raises:
            FileNotFoundError: No such directory / no ``data.mdb``.
            ValueError: Not a readable DTRB LMDB (corrupt, no ``num-samples``).
            ImportError: ``lmdb`` missing (``pip install starnet-trt[data]``).
        """
        self.path = Path(path)
        self.name = self.path.name
        self._reader = LmdbReader(self.path)

    def __len__(self) -> int:
        return len(self._reader)

    @property
    def keys(self) -> list[str]:
        """The image keys (``image-000000001`` ...)."""
        return [image_key(i).decode() for i in range(1, len(self) + 1)]

    def __getitem__(self, i: int) -> tuple[np.ndarray | None, str]:
        data, label = self._reader.read(_check_index(i, len(self)) + 1)
        return decode_image(data), label

    def raw(self, i: int) -> tuple[bytes, str]:
        """Encoded bytes and label of sample ``i`` (0-based), without decoding."""
        return self._reader.read(_check_index(i, len(self)) + 1)

    def __iter__(self) -> Iterator[tuple[np.ndarray | None, str]]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"LmdbDataset({str(self.path)!r}, n={len(self)})"


def open_dataset(path: str | os.PathLike[str], **kwargs: object) -> LabelFileDataset | LmdbDataset:
    """Open a dataset, choosing the format from the path.

    Args:
        path: A directory containing ``data.mdb`` (LMDB), or a ``.txt`` label file.
        **kwargs: Passed to :class:`LabelFileDataset` (``strict``, ``check_files``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` exists but is neither format.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"dataset not found: {p}")
    if p.is_dir():
        if (p / "data.mdb").is_file():
            return LmdbDataset(p)
        raise ValueError(f"{p}: directory without data.mdb; pass an LMDB directory or a .txt label file")
    if p.suffix.lower() == ".txt":
        return LabelFileDataset(p, **kwargs)  # type: ignore[arg-type]
    raise ValueError(f"{p}: unknown dataset format; expected an LMDB directory or a .txt label file")
