"""Label normalisation shared by training, evaluation and the synthetic generator.

The recognizer's charset is the 36 characters ``0-9a-z`` (plus the CTC blank, which is
not a character of any label).  Datasets keep their labels with original case and
symbols; the functions here decide what the model is trained on and what the DTRB
evaluation protocol compares.
"""

from __future__ import annotations

import re

CHARSET: str = "0123456789abcdefghijklmnopqrstuvwxyz"
"""The 36 recognizable characters, in the model's class order (blank excluded)."""

DEFAULT_MAX_LEN: int = 25
"""PaddleOCR's ``max_text_length`` for STAR-Net: longer labels are dropped in training."""

_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def dtrb_filter(label: str) -> str:
    """Normalize a label (or prediction) the way the DTRB evaluation protocol does.

    Lowercases, then keeps only ``0-9a-z``: punctuation, spaces, accents and any other
    symbol are removed, so ``"Don't!"`` becomes ``"dont"``.

    Args:
        label: Any string.

    Returns:
        The filtered string (possibly empty).
    """
    return _NOT_ALNUM.sub("", label.lower())


def train_label(
    label: str,
    *,
    mode: str = "strip",
    max_len: int = DEFAULT_MAX_LEN,
    charset: str = CHARSET,
) -> str | None:
    """Turn a dataset label into a training target, or reject the sample.

    Args:
        label: The stored label (original case, may contain symbols).
        mode: ``"strip"`` removes characters outside ``charset`` after lowercasing (the
            model learns to ignore symbols such as ``$`` or ``-``, matching DTRB
            evaluation); ``"drop"`` rejects any sample whose lowercased label has a
            character outside ``charset`` (PaddleOCR's behaviour).
        max_len: Samples whose target is longer than this are rejected (CTC needs at
            most as many labels as time steps; STAR-Net uses 25).
        charset: Allowed characters.

    Returns:
        The target string, or ``None`` when the sample should be skipped (empty target,
        too long, or an out-of-charset character in ``"drop"`` mode).

    Raises:
        ValueError: On an unknown ``mode``.
    """
    low = label.lower()
    if mode == "strip":
        allowed = set(charset)
        target = "".join(c for c in low if c in allowed)
    elif mode == "drop":
        allowed = set(charset)
        if any(c not in allowed for c in low):
            return None
        target = low
    else:
        raise ValueError(f"unknown label mode {mode!r}; expected 'strip' or 'drop'")
    if not target or len(target) > max_len:
        return None
    return target
