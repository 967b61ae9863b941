"""Prompt assembly: fixed order, attribution by name, and a token budget never exceeded."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from botkit.characters.model import Character, Example, KnowledgeEntry
from botkit.prompt import PromptBuilder, render_character_block
from botkit.tokens import default_token_counter
from botkit.transcript import Turn

MIRA = Character(
    id="mira",
    name="Mira",
    summary="the innkeeper",
    persona=("Mira runs the inn.", "She loves gossip."),
    style="Warm, short sentences.",
    examples=(Example("Any news?", "Oh, have I got news!"),),
    knowledge=(KnowledgeEntry("The inn has twelve rooms."),),
    as_of="the spring of year 12",
)
BRAM = Character(id="bram", name="Bram", summary="an old fisherman", persona=("Bram fishes.",))
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def turn(speaker: Character | str, text: str) -> Turn:
    if isinstance(speaker, Character):
        return Turn(speaker.id, speaker.name, text, True, NOW)
    return Turn(speaker.lower(), speaker, text, False, NOW)


def builder(window: int = 2048, reply: int = 96) -> PromptBuilder:
    return PromptBuilder(counter=default_token_counter(), context_window=window, reply_tokens=reply)


def total_cost(prompt_builder: PromptBuilder, contents: list[str]) -> int:
    counter = default_token_counter()
    return sum(counter.count(c) + 6 for c in contents)


def test_character_block_comes_first_then_context_then_turns() -> None:
    prompt = builder().build(
        speaker=MIRA,
        others=[MIRA, BRAM],
        transcript=[turn("Ann", "Hello!"), turn(BRAM, "Hmph."), turn(MIRA, "Welcome, love.")],
        context=["The lighthouse went dark."],
    )
    system = prompt.messages[0]
    assert system.role == "system"
    assert system.content.startswith(render_character_block(MIRA))
    assert "Also here: Bram (an old fisherman)" in system.content
    assert "- The lighthouse went dark." in system.content
    assert [(m.role, m.content) for m in prompt.messages[1:]] == [
        ("user", "Ann: Hello!"),
        ("user", "Bram: Hmph."),
        ("assistant", "Mira: Welcome, love."),
    ]


def test_block_holds_persona_style_examples_knowledge_and_time() -> None:
    block = render_character_block(MIRA)
    for expected in (
        "You are Mira, the innkeeper.",
        "Mira runs the inn.",
        "Warm, short sentences.",
        "Mira: Oh, have I got news!",
        "The inn has twelve rooms.",
        "spring of year 12",
        "Write only Mira's next line",
    ):
        assert expected in block


def test_the_block_is_identical_whatever_the_transcript() -> None:
    first = builder().build(speaker=MIRA, others=[BRAM], transcript=[turn("Ann", "a")])
    second = builder().build(
        speaker=MIRA, others=[BRAM], transcript=[turn("Ann", "b"), turn(BRAM, "c")]
    )
    assert first.messages[0] == second.messages[0]


def test_newest_turns_are_kept_when_history_is_long() -> None:
    history = [turn("Ann", f"message number {n} about the harbour") for n in range(2000)]
    prompt = builder(window=1024).build(speaker=MIRA, others=[BRAM], transcript=history)
    assert prompt.messages[-1].content == "Ann: message number 1999 about the harbour"
    assert 0 < prompt.turns_included < 2000
    assert prompt.total_tokens <= prompt.budget


def test_a_huge_single_message_is_shortened_to_fit() -> None:
    prompt = builder(window=512, reply=64).build(
        speaker=MIRA, others=[], transcript=[turn("Ann", "word " * 5000)]
    )
    contents = [m.content for m in prompt.messages]
    assert contents[-1].startswith("Ann: word word")
    assert contents[-1].endswith("…")
    assert total_cost(builder(), contents) <= prompt.budget


texts = st.text(min_size=0, max_size=400)


@settings(max_examples=60, deadline=None)
@given(
    history=st.lists(st.tuples(st.sampled_from(["Ann", "Bram", "Mira"]), texts), max_size=40),
    context=st.lists(texts, max_size=6),
    window=st.integers(min_value=300, max_value=3000),
    reply=st.integers(min_value=8, max_value=128),
    persona=st.lists(st.text(min_size=1, max_size=300), min_size=1, max_size=8),
)
def test_token_budget_is_never_exceeded(
    history: list[tuple[str, str]],
    context: list[str],
    window: int,
    reply: int,
    persona: list[str],
) -> None:
    speaker = Character(id="mira", name="Mira", persona=tuple(persona))
    people = {"Mira": speaker, "Bram": BRAM}
    transcript = [turn(people.get(name, name), text) for name, text in history]
    prompt_builder = builder(window, reply)
    prompt = prompt_builder.build(
        speaker=speaker, others=[speaker, BRAM], transcript=transcript, context=context
    )
    contents = [m.content for m in prompt.messages]
    assert total_cost(prompt_builder, contents) <= prompt.budget
    assert prompt.budget + reply <= window


def test_the_others_present_are_described_briefly_and_the_people_named() -> None:
    nell = Character(
        id="nell",
        name="Nell",
        persona=(
            "Nell is fifteen and was the apprentice of Elias Crane, the lighthouse keeper, "
            "until the night he vanished without a word to anyone in town.",
            "She is shy.",
        ),
    )
    prompt = builder().build(
        speaker=MIRA,
        others=[MIRA, BRAM, nell],
        transcript=[turn("Ann", "Hello!"), turn(BRAM, "Hmph."), turn("Tom", "Evening.")],
    )
    system = prompt.messages[0].content
    assert "Also here: Bram (an old fisherman); Nell (Nell is fifteen and was the apprentice" in (
        system
    )
    assert "She is shy" not in system
    introduction = system.split("Also here: ")[1].split("\n")[0]
    assert len(introduction) < 200
    assert "People in the conversation: Ann, Tom." in system
