"""The explicit-address policy: who is spoken to, in what order, and never oneself."""

from __future__ import annotations

import pytest

from botkit.scheduler import NOBODY, AddressPolicy, Decision
from botkit.transcript import Turn
from tests.scheduler.cast import BRAM, MIRA, NELL, WREN, context, human, said_by


async def address(
    trigger: Turn, *, mentions: tuple[str, ...] = (), reply_to: str | None = None
) -> tuple[str, ...]:
    situation = context(trigger, mentions=mentions, reply_to=reply_to)
    return (await AddressPolicy().decide(situation)).speakers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mira, a room please.", "mira"),
        ("Hey innkeeper!", "mira"),
        ("@wren where are you?", "wren"),
        ("I love MIRA's soup", "mira"),
        ("Old Bram, any fish?", "bram"),
        ("nell: is the lamp lit?", "nell"),
    ],
)
async def test_a_name_id_or_nickname_addresses(text: str, expected: str) -> None:
    assert await address(human(text)) == (expected,)


async def test_a_mention_or_a_reply_addresses() -> None:
    assert await address(human("hello"), mentions=("Nell",)) == ("nell",)
    assert await address(human("hello"), mentions=("@OLD BRAM",)) == ("bram",)
    assert await address(human("hello"), mentions=("Stranger",)) == ()
    assert await address(human("and you?"), reply_to="bram") == ("bram",)


async def test_several_addressed_answer_in_text_order_reply_first() -> None:
    trigger = human("Nell and Mira, what do you think?")
    assert await address(trigger) == ("nell", "mira")
    assert await address(trigger, reply_to="wren") == ("wren", "nell", "mira")
    assert await address(trigger, reply_to="mira") == ("mira", "nell")


async def test_mentions_take_their_place_in_the_text() -> None:
    trigger = human("Nell, ask @Wren and Mira.")
    assert await address(trigger, mentions=("Wren",)) == ("nell", "wren", "mira")
    assert await address(human("Nell?"), mentions=("Bram", "Wren")) == ("nell", "bram", "wren")


async def test_nobody_addressed_is_nobody() -> None:
    assert await address(human("What a night.")) == ()
    assert await AddressPolicy().decide(context(human("What a night."))) == NOBODY


async def test_a_human_invites_everyone_they_name() -> None:
    assert await address(human("I told Bram about the boat.")) == ("bram",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bram, what do you think?", ("bram",)),
        ("Hello Bram!", ("bram",)),
        ("Do you agree, Bram?", ("bram",)),
        ("Have you seen Bram's nets?", ("bram",)),
        ("Wren and Nell, come and look.", ("wren", "nell")),
        ("I told Bram about the boat.", ()),
        ("Bram's nets are torn again.", ()),
        ("Wren drew this map. Nell, is it right?", ("nell",)),
    ],
)
async def test_a_character_must_speak_to_another_directly(
    text: str, expected: tuple[str, ...]
) -> None:
    assert await address(said_by(MIRA, text)) == expected


async def test_a_character_never_answers_itself() -> None:
    trigger = said_by(MIRA, "Mira, you fool, I said to myself. Innkeeper indeed!")
    assert await address(trigger) == ()
    assert await address(trigger, mentions=("Mira",), reply_to="mira") == ()
    assert await address(said_by(BRAM, "Hello Mira!"), reply_to="bram") == ("mira",)


async def test_the_reason_names_the_addressed() -> None:
    decision = await AddressPolicy().decide(context(human("Wren, Nell: maps?")))
    assert decision == Decision((WREN.id, NELL.id), "addressed: wren, nell")
    assert AddressPolicy.name == "address"
