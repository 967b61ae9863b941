"""Retrievable lore found by meaning with the real MiniLM embedder, and lore reaching the
prompts of a running App (by key without memory, by meaning with it)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from botkit.app import App
from botkit.characters.model import Character
from botkit.config import parse_config
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.lore import Lorebook, LoreEntry, Position
from botkit.lore.retrieval import LoreRetriever
from botkit.memory.embeddings import LocalEmbedder
from botkit.testing import InstantBackend, RecordingAdapter
from tests.support.embedders import CountingEmbedder

SOUP = LoreEntry(
    content="Mira's fish soup is cod, leeks and cider, with a hidden spoon of honey.",
    keys=("soup",),
    retrievable=True,
    position=Position.AFTER_CHAR,
    name="soup",
)
CAVES = LoreEntry(
    content="The tide caves flood twice a day and have drowned three smugglers.",
    keys=("caves",),
    retrievable=True,
    name="caves",
)
HIDDEN = LoreEntry(
    content="Mira's stew is made of cod and onions.", keys=("stew",), name="not retrievable"
)
MIRA = Character(
    id="mira",
    name="Mira",
    persona=("Mira runs the inn.",),
    lorebook=Lorebook(entries=(SOUP, CAVES, HIDDEN)),
)


@pytest.fixture
async def embedder() -> AsyncIterator[LocalEmbedder]:
    local = LocalEmbedder()
    yield local
    await local.aclose()


@pytest.fixture
def retriever(embedder: LocalEmbedder) -> LoreRetriever:
    return LoreRetriever(embedder)


async def test_an_entry_is_found_by_meaning_without_any_shared_word(
    retriever: LoreRetriever,
) -> None:
    assert await retriever.find(MIRA, "I'm starving. What's good to eat tonight?") == [SOUP]
    assert await retriever.find(MIRA, "Is it safe to explore underground near the shore?") == [
        CAVES
    ]


async def test_nothing_is_found_for_unrelated_talk_or_entries_not_retrievable(
    retriever: LoreRetriever,
) -> None:
    assert await retriever.find(MIRA, "Lovely weather for a walk, isn't it?") == []
    disabled = Character(
        id="x",
        name="X",
        persona=("x",),
        lorebook=Lorebook(entries=(LoreEntry(content=SOUP.content, retrievable=False),)),
    )
    assert await retriever.find(disabled, "What's good to eat tonight?") == []


async def test_entries_embedded_ahead_leave_a_search_only_its_query_to_embed() -> None:
    embedder = CountingEmbedder()
    retriever = LoreRetriever(embedder)
    assert await retriever.prepare([MIRA, MIRA]) == 2
    assert embedder.backlog == Counter({SOUP.content: 1, CAVES.content: 1})
    assert await retriever.prepare([MIRA]) == 0
    await retriever.find(MIRA, "What's good to eat?")
    assert embedder.queries == Counter({"What's good to eat?": 1})


async def test_entries_not_embedded_ahead_are_embedded_by_the_first_search() -> None:
    embedder = CountingEmbedder(failing_backlog=True)
    retriever = LoreRetriever(embedder)
    assert await retriever.prepare([MIRA]) == 0
    await retriever.find(MIRA, "What's good to eat?")
    assert embedder.queries == Counter(
        {"What's good to eat?": 1, SOUP.content: 1, CAVES.content: 1}
    )


PACK = {
    "pack.yaml": "name: t\nversion: '1'\nlorebooks: [world.yaml]\ncharacters: [mira.yaml]\n",
    "world.yaml": """\
entries:
  - keys: [lighthouse]
    content: WORLD-LORE the lighthouse lamp lights itself.
""",
    "mira.yaml": """\
id: mira
name: Mira
persona: [Mira runs the inn.]
lorebook:
  entries:
    - keys: [soup]
      retrievable: true
      position: after_char
      content: SOUP-LORE {{char}}'s fish soup hides a spoon of honey, {{user}}.
""",
}


async def reply_prompt(tmp_path: Path, text: str, *, memory: bool) -> str:
    folder = tmp_path / "pack"
    folder.mkdir(exist_ok=True)
    for name, body in PACK.items():
        (folder / name).write_text(body)
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(folder)],
            "conversation": {"cast": ["mira"], "max_hops": 0},
            "scheduler": {"policy": "manual"},
            "memory": {"enabled": memory},
        }
    )
    backend = InstantBackend("Aye.")
    adapter = RecordingAdapter("test")
    async with App(config, backends={backend.name: backend}, adapters={"test": adapter}) as app:
        event = MessageEvent(
            event_id="e1",
            channel=ChannelKey("test", "g", "room"),
            author=Author("u-ann", "Ann"),
            text=text,
            message_id="m1",
            time=datetime.now(UTC),
        )
        await adapter.push(event)
        await app.wait_idle()
    return backend.requests[-1].messages[0].content


async def test_keyed_lore_from_the_character_and_the_pack_reaches_a_running_apps_prompt(
    tmp_path: Path,
) -> None:
    system = await reply_prompt(tmp_path, "Mira, is the lighthouse soup any good?", memory=False)
    assert system.startswith("WORLD-LORE the lighthouse lamp lights itself.\n\nYou are Mira.")
    assert "SOUP-LORE Mira's fish soup hides a spoon of honey, Ann." in system


async def test_with_memory_on_retrievable_lore_reaches_the_prompt_by_meaning(
    tmp_path: Path,
) -> None:
    system = await reply_prompt(tmp_path, "Mira, I'm starving. What's good to eat?", memory=True)
    assert "SOUP-LORE Mira's fish soup hides a spoon of honey, Ann." in system
    assert "WORLD-LORE" not in system


async def test_a_running_app_embeds_retrievable_lore_before_anyone_speaks(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "pack"
    folder.mkdir()
    for name, body in PACK.items():
        (folder / name).write_text(body)
    config = parse_config({"data_dir": str(tmp_path / "data"), "packs": [str(folder)]})
    embedder = CountingEmbedder()
    backend = InstantBackend("Aye.")
    async with App(
        config,
        backends={backend.name: backend},
        adapters={"test": RecordingAdapter("test")},
        embedder=embedder,
    ) as app:
        assert app.memory is not None
        for _ in range(100):
            if embedder.backlog:
                break
            await asyncio.sleep(0.01)
    assert embedder.backlog == Counter(
        {"SOUP-LORE Mira's fish soup hides a spoon of honey, you.": 1}
    )
