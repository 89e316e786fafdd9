"""Tests of starnet_trt.data.labels (DTRB filter, training targets)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starnet_trt.data.labels import CHARSET, dtrb_filter, train_label


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Don't!", "dont"),
        ("HeLLo World", "helloworld"),
        ("$12.99", "1299"),
        ("62-03", "6203"),
        ("[06]", "06"),
        ("café", "caf"),  # non-ASCII letters are not in the charset: removed, not transliterated
        ("", ""),
        ("!!!", ""),
        ("ABCxyz0189", "abcxyz0189"),
    ],
)
def test_dtrb_filter(raw: str, expected: str) -> None:
    assert dtrb_filter(raw) == expected


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_dtrb_filter_output_in_charset_and_idempotent(s: str) -> None:
    out = dtrb_filter(s)
    assert set(out) <= set(CHARSET)
    assert dtrb_filter(out) == out


def test_charset_is_36_symbols() -> None:
    assert len(CHARSET) == 36 and len(set(CHARSET)) == 36


def test_train_label_strip_and_drop() -> None:
    assert train_label("Hello!") == "hello"
    assert train_label("Hello!", mode="drop") is None
    assert train_label("Hello", mode="drop") == "hello"
    assert train_label("$") is None  # nothing left
    assert train_label("a" * 25) == "a" * 25
    assert train_label("a" * 26) is None
    assert train_label("abcd", max_len=3) is None
    with pytest.raises(ValueError, match="unknown label mode"):
        train_label("x", mode="keep")
