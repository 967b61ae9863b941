"""Splitting long replies to a platform's limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from botkit.messages import split_text


def test_short_text_is_one_piece() -> None:
    assert split_text("Hello there.", 2000) == ["Hello there."]


def test_paragraphs_then_sentences_then_words_are_preferred() -> None:
    text = "First paragraph here.\n\nSecond one. It has two sentences."
    assert split_text(text, 40) == ["First paragraph here.", "Second one. It has two sentences."]
    assert split_text("One two. Three four five.", 12) == ["One two.", "Three four", "five."]


def test_text_without_breaks_is_cut_hard() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_a_bad_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit must be positive"):
        split_text("text", 0)


@given(text=st.text(max_size=3000), limit=st.integers(min_value=1, max_value=500))
def test_pieces_fit_and_keep_every_word_in_order(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(0 < len(piece) <= limit for piece in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())
