"""Lore in the built prompt: before and after the character block, within budget, with
``{{char}}``/``{{user}}`` macros resolved everywhere."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from botkit.characters.model import Character, Example, KnowledgeEntry
from botkit.context import ContextRequest, KnowledgeProvider
from botkit.events import ChannelKey
from botkit.lore import Lorebook, LoreEntry, Position, expand_macros
from botkit.prompt import PromptBuilder, render_character_block
from botkit.tokens import default_token_counter
from botkit.transcript import Turn

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BOOK = Lorebook(
    entries=(
        LoreEntry(content="BEFORE: the bell is cursed.", keys=("bell",), name="before"),
        LoreEntry(
            content="AFTER: {{char}} fears the bell; <USER> does not.",
            keys=("bell",),
            position=Position.AFTER_CHAR,
            name="after",
        ),
        LoreEntry(content="UNUSED: the moon.", keys=("moon",), name="unused"),
    )
)
MIRA = Character(
    id="mira",
    name="Mira",
    persona=("{{char}} runs the inn and likes {{user}}.",),
    summary="the innkeeper",
    style="Calls <user> 'love'.",
    examples=(Example("Hi {{char}}", "Hello, {{User}}!"),),
    knowledge=(KnowledgeEntry("<BOT> keeps a parrot."),),
    lorebook=BOOK,
)


def human(name: str, text: str) -> Turn:
    return Turn(name.lower(), name, text, False, NOW)


def builder(window: int = 2048, reply: int = 96) -> PromptBuilder:
    return PromptBuilder(counter=default_token_counter(), context_window=window, reply_tokens=reply)


def test_before_char_lore_opens_the_system_message_and_after_char_follows_the_block() -> None:
    transcript = [human("Ann", "Did you hear the bell?")]
    prompt = builder().build(
        speaker=MIRA, others=[], transcript=transcript, context=["A recalled fact."]
    )
    system = prompt.messages[0].content
    block = render_character_block(MIRA, user="Ann")
    assert system.startswith("BEFORE: the bell is cursed.\n\n" + block + "\n\nAFTER: Mira")
    assert system.index("AFTER: Mira fears the bell; Ann does not.") < system.index(
        "A recalled fact."
    )
    assert "UNUSED" not in system
    assert [e.name for e in prompt.lore.entries] == ["before", "after"]
    assert prompt.lore_tokens > 0
    assert prompt.total_tokens == (
        prompt.character_tokens + prompt.lore_tokens + prompt.context_tokens + prompt.turn_tokens
    )


def test_without_matching_lore_the_prompt_opens_with_the_block() -> None:
    prompt = builder().build(speaker=MIRA, others=[], transcript=[human("Ann", "Hello")])
    assert prompt.messages[0].content.startswith("You are Mira, the innkeeper.")
    assert prompt.lore_tokens == 0


def test_the_scene_is_scanned_for_keys() -> None:
    prompt = builder().build(
        speaker=MIRA, others=[], transcript=[human("Ann", "Hi")], scene="A moon over the bay."
    )
    assert "UNUSED: the moon." in prompt.messages[0].content


def test_macros_resolve_in_every_character_text_with_the_last_human_speaker() -> None:
    transcript = [human("Ann", "hi"), human("Tom", "hey"), Turn("bram", "Bram", "Hm.", True, NOW)]
    system = builder().build(speaker=MIRA, others=[], transcript=transcript).messages[0].content
    for expected in (
        "Mira runs the inn and likes Tom.",
        "Calls Tom 'love'.",
        "Someone: Hi Mira",
        "Mira: Hello, Tom!",
        "- Mira keeps a parrot.",
    ):
        assert expected in system
    assert "{{" not in system and "<BOT>" not in system and "<user>" not in system


def test_user_is_you_before_any_person_has_spoken() -> None:
    assert "likes you." in render_character_block(MIRA)
    assert expand_macros("{{ CHAR }} and <bot> meet {{user}}", char="Mira") == (
        "Mira and Mira meet you"
    )


async def test_keyed_knowledge_snippets_resolve_macros_too() -> None:
    character = Character(
        id="mira",
        name="Mira",
        persona=("x",),
        knowledge=(KnowledgeEntry("{{user}} owes {{char}} a coin.", ("coin",)),),
    )
    request = ContextRequest(
        speaker=character,
        channel=ChannelKey("test", "g", "c"),
        transcript=[human("Ann", "About that coin…")],
    )
    assert await KnowledgeProvider().retrieve(request) == ["Ann owes Mira a coin."]


texts = st.text(min_size=0, max_size=300)


@settings(max_examples=40, deadline=None)
@given(
    contents=st.lists(texts, max_size=8),
    history=st.lists(texts, max_size=20),
    window=st.integers(min_value=300, max_value=3000),
    budget=st.one_of(st.none(), st.integers(min_value=1, max_value=3000)),
)
def test_the_token_budget_is_never_exceeded_with_lore(
    contents: list[str], history: list[str], window: int, budget: int | None
) -> None:
    book = Lorebook(
        token_budget=budget,
        entries=tuple(
            LoreEntry(content=c, constant=True, position=list(Position)[n % 2])
            for n, c in enumerate(contents)
        ),
    )
    speaker = Character(id="mira", name="Mira", persona=("Mira.",), lorebook=book)
    prompt_builder = builder(window)
    prompt = prompt_builder.build(
        speaker=speaker, others=[], transcript=[human("Ann", t) for t in history]
    )
    counter = default_token_counter()
    assert sum(counter.count(m.content) + 6 for m in prompt.messages) <= prompt.budget
