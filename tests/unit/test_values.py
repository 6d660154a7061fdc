"""Cutting text to a length limit: the marker says how much was left out and fits within the limit."""

from __future__ import annotations

import re

import pytest

from otel_revops.values import cut_text


@pytest.mark.parametrize("length", [5_000_000, 65_537, 1_000])
def test_cut_text_with_its_marker_fits_the_limit(length: int) -> None:
    text = "m" * length
    cut = cut_text(text, 1_000 if length == 1_000 else 65_536)
    limit = 65_536 if length != 1_000 else 1_000
    if length <= limit:
        assert cut == text
        return
    assert len(cut) <= limit
    match = re.fullmatch(r"(m+)…\[truncated (\d+) characters\]", cut)
    assert match is not None
    assert len(match[1]) + int(match[2]) == length


def test_cut_text_below_the_marker_length_is_a_plain_cut() -> None:
    assert cut_text("abcdefghij" * 10, 8) == "abcdefgh"


def test_no_limit_keeps_everything() -> None:
    assert cut_text("x" * 100, None) == "x" * 100
