"""The reply filter: a character says only its own line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from botkit.reply_filter import ReplyFilter


async def chunks(text: str, size: int) -> AsyncIterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


async def run(text: str, size: int = 3, **kwargs: object) -> tuple[str, ReplyFilter]:
    reply = ReplyFilter(speaker="Mira", others=["Bram", "Ann", "Sir Tobias"], **kwargs)  # type: ignore[arg-type]
    out = "".join([part async for part in reply.filter(chunks(text, size))])
    assert out == reply.text
    return out, reply


@pytest.mark.parametrize("size", [1, 3, 50])
async def test_plain_reply_passes_through(size: int) -> None:
    out, reply = await run("Welcome, love! Sit down.", size)
    assert out == "Welcome, love! Sit down."
    assert reply.interrupted_by is None


async def test_own_name_prefix_is_dropped() -> None:
    out, _ = await run("Mira: Welcome, love!")
    assert out == "Welcome, love!"


async def test_a_line_for_another_character_ends_the_reply() -> None:
    out, reply = await run("Welcome, love!\nBram: Hmph. Strangers.\nMira: Hush.")
    assert out == "Welcome, love!"
    assert reply.interrupted_by == "Bram"


async def test_a_line_for_a_human_or_generic_speaker_ends_the_reply() -> None:
    out, reply = await run("Have some stew.\nAnn: Thanks!")
    assert out == "Have some stew."
    assert reply.interrupted_by == "Ann"
    out, _ = await run("Have some stew.\nUser: Thanks!")
    assert out == "Have some stew."


async def test_multi_word_and_decorated_names_are_recognised() -> None:
    out, reply = await run("Oh my.\n**Sir Tobias:** Indeed.")
    assert out == "Oh my."
    assert reply.interrupted_by == "Sir Tobias"


async def test_reply_starting_as_someone_else_is_empty() -> None:
    out, reply = await run("Bram: I'm Bram, not Mira.")
    assert out == ""
    assert reply.interrupted_by == "Bram"


async def test_trailing_unfinished_sentence_is_dropped() -> None:
    out, _ = await run("The fog is thick tonight. And the lamp in the tow")
    assert out == "The fog is thick tonight."


async def test_an_unfinished_only_sentence_is_kept() -> None:
    out, _ = await run("Hello there love")
    assert out == "Hello there love"


async def test_stops_after_max_lines() -> None:
    out, _ = await run("One.\nTwo.\nThree.\nFour.", max_lines=2)
    assert out == "One.\nTwo."


async def test_mentioning_a_name_mid_line_is_not_a_speaker_tag() -> None:
    out, _ = await run("I told Bram: no more fish today.")
    assert out == "I told Bram: no more fish today."


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (
            "The Salt Lantern, love! Best soup on the cliff.She: What a wonderful place.",
            "The Salt Lantern, love! Best soup on the cliff.",
        ),
        (
            "This place has a long history.Tiny: That's interesting.",
            "This place has a long history.",
        ),
        (
            "Guns are not in the cliff!\"Raven: (sighing) What's that?",
            "Guns are not in the cliff!",
        ),
        ("Oh dear.\nThe Devil (in character): A sea serpent.", "Oh dear."),
        ("Fine. Bram: hush now.", "Fine."),
        ("I'll tell you.\nMira: And another thing.", "I'll tell you."),
    ],
)
async def test_invented_speaker_tags_after_a_sentence_end_the_reply(raw: str, kept: str) -> None:
    out, _ = await run(raw, size=4)
    assert out == kept


LINE = "The tide is out and the gulls are loud over the harbour tonight, love. "


def one_line(chars: int) -> str:
    return (LINE * (chars // len(LINE) + 1))[:chars]


@pytest.mark.parametrize("text", [one_line, lambda chars: "a" * chars], ids=["prose", "no-end"])
async def test_filtering_work_grows_linearly_with_the_reply(text: Any) -> None:
    scanned = {}
    for chars in (10_000, 100_000):
        out, reply = await run(text(chars), 1000)
        assert len(out) > chars * 0.9
        scanned[chars] = reply.scanned
    assert scanned[100_000] <= 5 * 100_000
    assert scanned[100_000] <= 11 * scanned[10_000]


class Fragments:
    """An endless reply, counting the fragments drawn and whether it was closed."""

    def __init__(self, fragment: str) -> None:
        self.fragment = fragment
        self.drawn = 0
        self.closed = False

    def __aiter__(self) -> Fragments:
        return self

    async def __anext__(self) -> str:
        self.drawn += 1
        return self.fragment

    async def aclose(self) -> None:
        self.closed = True


async def test_a_reply_is_cut_at_max_chars_and_the_stream_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = Fragments(LINE)
    reply = ReplyFilter(speaker="Mira", others=["Bram"], max_chars=1000)
    out = "".join([part async for part in reply.filter(source)])
    assert 0 < len(out) <= 1000
    assert out.endswith("love.")
    assert source.drawn <= 1000 // len(LINE) + 2
    assert source.closed
    assert "Mira's reply reached max_reply_chars (1000)" in caplog.text
