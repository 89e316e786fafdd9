"""Word accuracy and normalized edit distance on a labelled dataset, by the DTRB protocol.

DTRB (Baek et al., "What is wrong with scene text recognition model comparisons?") compares predictions and
labels case-insensitively after keeping only ``0-9a-z`` in both (:func:`starnet_trt.data.labels.dtrb_filter`):

* a word is correct only when the filtered strings are equal;
* NED is the mean over words of ``1 - edit_distance(gt, pred) / max(len(gt), len(pred))``.

One deliberate difference from DTRB's code: when both filtered strings are empty the word scores NED 1.0
(DTRB adds 0, punishing a correct empty prediction). Images that cannot be decoded or are rejected by the
recognizer count as wrong with an empty prediction, and are reported in ``EvalResult.failures``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TextIO

import numpy as np

from .data.labels import dtrb_filter


class _Dataset(Protocol):
    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[np.ndarray | None, str]: ...


@dataclass(frozen=True)
class EvalResult:
    """Scores of one evaluation run.

    Attributes:
        accuracy: Fraction of words whose filtered prediction equals the filtered label.
        ned: Mean normalized edit similarity (1 is perfect), see the module docstring.
        count: Words evaluated (failures included).
        images_per_s: End-to-end throughput: dataset reading and decoding plus recognition, over wall time.
        failures: Images that could not be decoded or were rejected (counted as wrong).
    """

    accuracy: float
    ned: float
    count: int
    images_per_s: float
    failures: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions and substitutions all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def word_scores(label: str, prediction: str) -> tuple[bool, float]:
    """Whether ``prediction`` matches ``label`` and its normalized edit similarity, after :func:`dtrb_filter`.

    Example:
        >>> word_scores("Don't", "DONT")
        (True, 1.0)
        >>> word_scores("hello", "hallo")
        (False, 0.8)
    """
    gt, pred = dtrb_filter(label), dtrb_filter(prediction)
    longest = max(len(gt), len(pred))
    ned = 1.0 if longest == 0 else 1.0 - edit_distance(gt, pred) / longest
    return gt == pred, ned


class _ProgressBar:
    """A one-line progress bar on a text stream, redrawn at most ten times a second."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self._total, self._stream = total, stream
        self._start = self._last = time.perf_counter()

    def update(self, done: int, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        frac = done / self._total if self._total else 1.0
        filled = int(30 * frac)
        rate = done / max(now - self._start, 1e-9)
        self._stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self._total} {rate:7.1f} img/s")
        self._stream.flush()

    def close(self, done: int) -> None:
        self.update(done, force=True)
        self._stream.write("\n")
        self._stream.flush()


def evaluate(
    recognizer: Any,
    dataset: _Dataset | Sequence[tuple[np.ndarray | None, str]],
    *,
    batch_size: int = 64,
    progress: bool | None = True,
    limit: int | None = None,
) -> EvalResult:
    """Score ``recognizer`` on ``dataset`` with the DTRB protocol.

    Args:
        recognizer: A :class:`starnet_trt.recognizer.Recognizer` (anything with its ``recognize``).
        dataset: Indexable ``(image or None, label)`` pairs, e.g. from ``starnet_trt.data.datasets.open_dataset``.
        batch_size: Images read from the dataset per ``recognize`` call.
        progress: Draw a progress bar on stderr: ``True`` always, ``False`` never, ``None`` when stderr is a
            terminal.
        limit: Evaluate only the first ``limit`` samples.

    Returns:
        The scores; ``accuracy`` and ``ned`` are 0.0 for an empty dataset.

    Example:
        >>> from starnet_trt.data.datasets import open_dataset  # doctest: +SKIP
        >>> r = evaluate(Recognizer("starnet_mv3.onnx"), open_dataset("IIIT5k_3000"), progress=False)  # doctest: +SKIP
        >>> print(f"{r.accuracy:.2%}")  # doctest: +SKIP
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    total = len(dataset)
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
        total = min(total, limit)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = _ProgressBar(total, sys.stderr) if show else None

    correct, ned_sum, failures = 0, 0.0, 0
    start = time.perf_counter()
    for first in range(0, total, batch_size):
        samples = [dataset[i] for i in range(first, min(first + batch_size, total))]
        images = [img for img, _ in samples if img is not None]
        results = iter(recognizer.recognize(images, on_error="skip") if images else [])
        for img, label in samples:
            result = next(results) if img is not None else None
            if result is None:
                failures += 1
            ok, ned = word_scores(label, result.text if result is not None else "")
            correct += ok
            ned_sum += ned
        if bar is not None:
            bar.update(first + len(samples))
    elapsed = time.perf_counter() - start
    if bar is not None:
        bar.close(total)
    return EvalResult(
        accuracy=correct / total if total else 0.0,
        ned=ned_sum / total if total else 0.0,
        count=total,
        images_per_s=total / elapsed if elapsed > 0 else 0.0,
        failures=failures,
    )
