"""Type and range checks for the arguments of the Python API (recognizer, builder, quantizer).

Each raises ``TypeError`` for a wrong type and ``ValueError`` for a wrong value, naming the argument, what was
expected and what came, before any file is read or any TensorRT object is made.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def require_bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def require_int(value: object, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer (``int`` or a NumPy integer, not a ``bool``) within ``[minimum, maximum]``, as an ``int``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "-inf" if minimum is None else str(minimum)
        high = "inf" if maximum is None else str(maximum)
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def require_percentile(value: object, name: str) -> float:
    """A real number in ``(0, 100]`` (a share in percent, not a ``bool``), as a ``float``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in (0, 100], got {type(value).__name__} {value!r}")
    value = float(value)
    if not 0 < value <= 100:  # also refuses NaN
        raise ValueError(f"{name} must be in (0, 100], got {value}")
    return value


def optional_int(value: object, name: str, minimum: int | None = None, maximum: int | None = None) -> int | None:
    return None if value is None else require_int(value, name, minimum, maximum)


def require_choice(value: object, name: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {tuple(choices)}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def optional_str(value: object, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    return value


def require_path(value: object, name: str) -> Path:
    """A ``str``/``bytes``/``os.PathLike`` path (bytes decoded like ``os.fsdecode``, so any file name works)."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(value).__name__}")
    return Path(os.fsdecode(os.fspath(value)))


def optional_path(value: object, name: str) -> Path | None:
    return None if value is None else require_path(value, name)


def output_file(value: object, name: str) -> Path:
    """A path to write: not an existing directory (its parent folders are created on write)."""
    path = require_path(value, name)
    if path.is_dir():
        raise IsADirectoryError(f"{name} must be a file path, got the directory {str(path)!r}")
    return path


def optional_callable(value: object, name: str) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable (e.g. print) or None, got {type(value).__name__}")
    return value  # type: ignore[return-value]
