"""What recognition returns for one word image."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """The recognized text of one word image.

    Attributes:
        text: Decoded characters (CTC greedy decoding: argmax per time step, repeats collapsed, blanks dropped).
        confidence: Mean of the kept characters' probabilities (PaddleOCR's score), in ``[0, 1]``; the value for
            an empty ``text`` follows the decode op's convention.
        char_probs: Probability of each character of ``text``, only when asked for with
            ``recognize(..., return_char_probs=True)``; otherwise ``None``.

    Example:
        >>> r = Result("hello", 0.98)
        >>> r.text, round(r.confidence, 2)
        ('hello', 0.98)
    """

    text: str
    confidence: float
    char_probs: tuple[float, ...] | None = None
