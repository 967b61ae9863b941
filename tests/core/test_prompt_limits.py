"""Prompt limits a backend declares for a tiny model: fewer examples and turns, a smaller
budget, a start that stays put; no change for a backend without limits."""

from __future__ import annotations

from datetime import UTC, datetime

from botkit.backends.base import PromptLimits
from botkit.characters.model import Character, Example
from botkit.context import Recollection
from botkit.prompt import PromptBuilder, render_character_block
from botkit.tokens import default_token_counter
from botkit.transcript import Turn

MIRA = Character(
    id="mira",
    name="Mira",
    summary="the innkeeper",
    persona=("Mira runs the inn.",),
    examples=(
        Example("Any news?", "Oh, have I got news!"),
        Example("Tea?", "Always, love."),
        Example("Rooms?", "Six, and a parrot."),
    ),
    example_dialogue="<START>\nAnn: Hi\nMira: Hello, love.",
)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
TINY = PromptLimits(max_tokens=400, max_examples=1, max_turns=6)


def history(turns: int) -> list[Turn]:
    return [Turn("ann", "Ann", f"Line number {n} about the fog.", False, NOW) for n in range(turns)]


def builder(limits: PromptLimits | None = None) -> PromptBuilder:
    return PromptBuilder(
        counter=default_token_counter(), context_window=2048, reply_tokens=96, limits=limits
    )


def test_a_tiny_model_gets_only_the_first_examples() -> None:
    block = render_character_block(MIRA, max_examples=1)
    assert "Oh, have I got news!" in block
    assert "Always, love." not in block and "Hello, love." not in block
    two = render_character_block(MIRA, max_examples=4)
    assert "Six, and a parrot." in two and "Mira: Hello, love." in two
    assert render_character_block(MIRA) == render_character_block(MIRA, max_examples=None)


def test_limits_cap_the_budget_and_the_turns() -> None:
    prompt = builder(TINY).build(speaker=MIRA, others=[MIRA], transcript=history(40))
    assert prompt.budget == 400
    assert prompt.total_tokens <= 400
    assert 3 < prompt.turns_included <= 6
    assert "Always, love." not in prompt.messages[0].content


def test_without_limits_the_prompt_is_unchanged() -> None:
    transcript = history(40)
    plain = PromptBuilder(counter=default_token_counter(), context_window=2048, reply_tokens=96)
    unlimited = builder(PromptLimits())
    expected = plain.build(speaker=MIRA, others=[MIRA], transcript=transcript)
    assert unlimited.build(speaker=MIRA, others=[MIRA], transcript=transcript) == expected
    assert expected.turns_included == 40
    assert "Six, and a parrot." in expected.messages[0].content


def test_old_turns_are_dropped_in_steps_so_the_start_stays_put() -> None:
    tiny = builder(TINY)
    firsts = []
    for turns in range(6, 16):
        prompt = tiny.build(speaker=MIRA, others=[MIRA], transcript=history(turns))
        firsts.append(int(prompt.messages[1].content.split()[3]))
    # The oldest turn carried moves every third turn (half of max_turns), not every turn.
    assert firsts == [0, 3, 3, 3, 6, 6, 6, 9, 9, 9]


def test_changing_context_comes_late_so_the_start_is_shared() -> None:
    late = builder(PromptLimits(context_after_turns=True))
    earlier = late.build(
        speaker=MIRA, others=[MIRA], transcript=history(4), context=["The bell rang."]
    )
    later = late.build(
        speaker=MIRA, others=[MIRA], transcript=history(6), context=["The lamp is dark."]
    )
    # The block and every turn but the newest come first, unchanged.
    assert later.messages[: len(earlier.messages) - 2] == earlier.messages[:-2]
    assert earlier.messages[-2].role == "system"
    assert "The bell rang." in earlier.messages[-2].content
    assert "The bell rang." not in earlier.messages[0].content
    assert "People in the conversation: Ann." in earlier.messages[0].content
    assert earlier.messages[-1].content == "Ann: Line number 3 about the fog."
    assert earlier.total_tokens <= earlier.budget
    # Without it the notes sit in the system message, before the turns.
    plain = builder().build(
        speaker=MIRA, others=[MIRA], transcript=history(4), context=["The bell rang."]
    )
    assert "The bell rang." in plain.messages[0].content


def recollections(count: int) -> list[Recollection]:
    return [
        Recollection(f"Memory {n}: the bell rang twice at the harbour.", speaker="Bram")
        for n in range(count)
    ]


def test_the_opening_stays_the_start_of_the_next_prompt_whatever_it_recalls() -> None:
    late = builder(
        PromptLimits(max_tokens=300, max_examples=1, max_turns=12, context_after_turns=True)
    )
    for turns in range(2, 30):
        transcript = history(turns)
        opening = late.opening(speaker=MIRA, others=[MIRA], transcript=transcript)
        assert opening[0].role == "system" and len(opening) > 1
        following = [*transcript, Turn("ann", "Ann", "And the lamp, Mira?", False, NOW)]
        for found in (0, 1, 4, 12):
            prompt = late.build(
                speaker=MIRA,
                others=[MIRA],
                transcript=following,
                context=[*recollections(found), "The bell rang."],
            )
            assert prompt.messages[: len(opening)] == opening, (turns, found)
            assert prompt.total_tokens <= prompt.budget


def test_the_opening_stays_put_while_the_oldest_turns_are_let_go() -> None:
    late = builder(
        PromptLimits(max_tokens=400, max_examples=1, max_turns=12, context_after_turns=True)
    )
    channel = history(80)
    kept = 20
    for seen in range(kept, 80):
        transcript = channel[seen - kept : seen]
        opening = late.opening(
            speaker=MIRA, others=[MIRA], transcript=transcript, position=seen - kept
        )
        # The next message arrives; the oldest kept turn is let go to make room.
        following = [*channel[seen - kept + 1 : seen], Turn("ann", "Ann", "Well?", False, NOW)]
        prompt = late.build(
            speaker=MIRA, others=[MIRA], transcript=following, position=seen - kept + 1
        )
        assert prompt.messages[: len(opening)] == opening, seen


def test_without_late_context_nothing_is_read_ahead() -> None:
    assert builder(TINY).opening(speaker=MIRA, others=[MIRA], transcript=history(5)) == ()
    late = builder(PromptLimits(context_after_turns=True))
    assert late.opening(speaker=MIRA, others=[MIRA], transcript=[]) == ()
