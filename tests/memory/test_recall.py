"""Memory end to end: recall after a restart, scopes and witnesses, forgetting."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest

from botkit.backends.base import ChatRequest
from botkit.events import Author, ChannelKey
from botkit.memory import service as memory_service
from botkit.memory.records import Scope
from botkit.testing import InstantBackend
from tests.support.openai_server import OpenAIServer, error_reply

from .conftest import MemoryApp, command, said, spread
from .transcripts import chatter

ROOM = ChannelKey("test", "guild-1", "tavern")
ANN = Author("u-ann", "Ann")
TOM = Author("u-tom", "Tom")
FACT = "My sister Alva keeps bees up on Thornback Hill, past the old mill."


def context_of(backend: InstantBackend) -> str:
    """The text of the last prompt's system and context messages."""
    request = backend.requests[-1]
    return "\n".join(m.content for m in request.messages)


async def test_a_fact_told_weeks_earlier_is_recalled_after_a_restart(
    memory_app: MemoryApp,
) -> None:
    lines = chatter(400)
    lines.insert(12, FACT)
    times = spread(lines, days=29)
    async with memory_app() as (app, adapter):
        for text, time in zip(lines, times, strict=True):
            await adapter.push(said(text, ROOM, ANN if text == FACT else TOM, time=time))
        await app.wait_idle()
        assert app.memory is not None
        await app.memory.flush()
        assert not adapter.replies

    backend = InstantBackend("Aye, I remember.")
    async with memory_app(backend) as (app, adapter):
        await adapter.push(said("Mira, where does my sister keep her bees?", ROOM, ANN))
        await app.wait_idle()

    assert [r.identity.name for r in adapter.replies] == ["Mira"]
    prompt = context_of(backend)
    assert FACT in prompt
    line = next(line for line in prompt.splitlines() if FACT in line)
    assert line.startswith("> (")
    assert re.search(r", [34] weeks ago\) Ann: ", line)
    messages = backend.requests[-1].messages
    assert all(FACT not in m.content for m in messages if m.role == "system")
    assert [m.role for m in messages if FACT in m.content] == ["user"]


async def test_no_memory_crosses_servers_even_with_the_same_words(memory_app: MemoryApp) -> None:
    here = ChannelKey("test", "guild-a", "tavern")
    there = ChannelKey("test", "guild-b", "tavern")
    secrets = {
        here: "The vault code is 4471 and the key hides under the blue lantern.",
        there: "The vault code is 9902 and the key hides under the blue lantern.",
    }
    async with memory_app() as (app, adapter):
        for channel, secret in secrets.items():
            for text in [*chatter(30, seed=len(secret)), secret, *chatter(30, seed=3)]:
                await adapter.push(said(text, channel, ANN))
        await app.wait_idle()
        memory = app.memory
        assert memory is not None
        await memory.flush()
        queries = [
            "what is the vault code?",
            "The vault code is 9902 and the key hides under the blue lantern.",
            "The vault code is 4471 and the key hides under the blue lantern.",
            "blue lantern key",
            "harbour bell fog",
            "9902",
            "4471",
        ]
        now = datetime.now(UTC)
        seen = 0
        for channel in secrets:
            own = await memory.vectors.ids(Scope(channel.platform, channel.server))
            other = await memory.vectors.ids(
                Scope(channel.platform, "guild-b" if channel == here else "guild-a")
            )
            assert own and other and not own & other
            for query in queries:
                for character in ("mira", "bram"):
                    scope = Scope(channel.platform, channel.server, character=character)
                    found = await memory.recall(query, scope, now=now, limit=50)
                    seen += len(found)
                    assert {r.memory.channel.server for r in found} <= {channel.server}
                    vector = await memory._embedder.embed([query])
                    nearest = await memory.vectors.query(vector[0], scope, 200)
                    assert {i for i, _ in nearest} <= own
        assert seen > 100
        mine = await memory.recall("vault code", Scope("test", "guild-a", here, "mira"), now=now)
        assert "4471" in mine[0].memory.text


async def test_a_character_absent_from_a_scene_does_not_recall_it(memory_app: MemoryApp) -> None:
    scene = "Meet me at the drowned chapel at midnight, bring the silver key."
    async with memory_app(cast=["mira"]) as (app, adapter):
        await adapter.push(said(scene, ROOM, ANN))
        await adapter.push(said("The gulls are loud today.", ROOM, TOM))
        await app.wait_idle()
        memory = app.memory
        assert memory is not None
        await memory.flush()
        await adapter.push(command(ROOM, ANN, "add", "bram"))
        await adapter.push(said("Bram, the rope you sold me snapped.", ROOM, TOM))
        await app.wait_idle()
        await memory.flush()
        now = datetime.now(UTC)

        def texts(character: str) -> list[str]:
            return [r.memory.text for r in found[character]]

        found = {
            character: await memory.recall(
                "where is the midnight meeting, the chapel?",
                Scope.of(ROOM, character=character, whole_server=False),
                now=now,
                limit=20,
            )
            for character in ("mira", "bram")
        }
    assert scene in texts("mira")
    assert scene not in texts("bram")
    assert texts("bram") == ["Bram, the rope you sold me snapped."] or not texts("bram")


async def test_forget_removes_a_members_messages_from_sqlite_and_chroma(
    memory_app: MemoryApp,
) -> None:
    secret = "My real name is Annika Strand and I was born in Vellhaven in 1996."
    async with memory_app() as (app, adapter):
        await adapter.push(said(secret, ROOM, ANN))
        await adapter.push(said("Tom here, I like the stew.", ROOM, TOM))
        await app.wait_idle()
        memory = app.memory
        assert memory is not None
        await memory.flush()
        server = Scope("test", "guild-1")
        before = await memory.vectors.ids(server)
        assert len(before) == 2

        await adapter.push(command(ROOM, TOM, "forget", "user", "Ann", manage=False))
        await adapter.push(command(ROOM, ANN, "forget", "user", "Ann"))
        await app.wait_idle()
        (_, refused), (_, done) = adapter.notices[-2:]
        assert refused == (
            "Cannot do that: /forget user changes this channel and needs the manage permission"
        )
        assert done == "Forgot Ann's messages on this server: 1 message and 1 memory."

        rows = await app.store.fetch("SELECT count(*) FROM turns WHERE speaker_id = 'u-ann'")
        assert rows[0][0] == 0
        assert await memory.ledger.search_text("Annika Vellhaven 1996", server, 10) == []
        after = await memory.vectors.ids(server)
        assert len(after) == 1 and after < before
        vector = await memory._embedder.embed([secret])
        nearest = await memory.vectors.query(vector[0], server, 10)
        assert [i for i, _ in nearest] == sorted(after)
        found = await memory.recall(
            secret, Scope("test", "guild-1", character="mira"), now=datetime.now(UTC)
        )
        assert all("Annika" not in r.memory.text for r in found)


async def test_forget_channel_and_forget_me_and_a_characters_memory(memory_app: MemoryApp) -> None:
    other_room = ChannelKey("test", "guild-1", "docks")
    async with memory_app() as (app, adapter):
        await adapter.push(said("The docks smell of tar and rain.", other_room, TOM))
        await adapter.push(said("I buried the gold by the crooked oak.", ROOM, ANN))
        await adapter.push(said("Tom says the crooked oak is haunted.", ROOM, TOM))
        await app.wait_idle()
        memory = app.memory
        assert memory is not None
        await memory.flush()

        await adapter.push(command(ROOM, TOM, "forget", "me", manage=False))
        await app.wait_idle()
        assert adapter.notices[-1][1] == (
            "Forgot your messages on this server: 2 messages and 2 memories."
        )
        await adapter.push(command(ROOM, ANN, "forget", "character", "Mira"))
        await app.wait_idle()
        assert adapter.notices[-1][1] == "Forgot what Mira remembers of this channel: 1 memory."
        now = datetime.now(UTC)
        mira = await memory.recall(
            "gold crooked oak", Scope.of(ROOM, character="mira", whole_server=False), now=now
        )
        bram = await memory.recall(
            "gold crooked oak", Scope.of(ROOM, character="bram", whole_server=False), now=now
        )
        assert mira == []
        assert [r.memory.text for r in bram] == ["I buried the gold by the crooked oak."]

        await adapter.push(command(ROOM, ANN, "forget", "channel"))
        await app.wait_idle()
        assert adapter.notices[-1][1] == (
            "Forgot everything said in this channel: 1 message and 1 memory."
        )
        assert await memory.vectors.ids(Scope("test", "guild-1")) == set()
        conversation = await app.conversation(ROOM)
        assert all("/forget" not in t.text for t in conversation.turns)
        assert not conversation.turns


async def test_memory_command_shows_what_a_character_recalls(memory_app: MemoryApp) -> None:
    async with memory_app() as (app, adapter):
        old = datetime.now(UTC) - timedelta(days=20)
        await adapter.push(
            said("The ferryman Oskar owes me three silver crowns.", ROOM, ANN, time=old)
        )
        await app.wait_idle()
        assert app.memory is not None
        await app.memory.flush()
        await adapter.push(command(ROOM, TOM, "memory", "Mira", "ferryman", manage=False))
        await adapter.push(command(ROOM, ANN, "memory", "Mira", "who owes money?"))
        await adapter.push(command(ROOM, ANN, "memory", "Mira"))
        await app.wait_idle()
    refused, shown, usage = (n[1] for n in adapter.notices[-3:])
    assert refused.startswith("Cannot do that: /memory changes this channel")
    assert shown.startswith("Mira recalls about 'who owes money?':\n")
    assert "[2 weeks ago] Ann: The ferryman Oskar owes me three silver crowns." in shown
    assert usage == "Cannot do that: usage: /memory <character> <topic>"


async def test_observations_are_written_once_quiet_and_bring_their_turns_along(
    memory_app: MemoryApp,
) -> None:
    def script(request: ChatRequest) -> str:
        if "chronicle" in request.messages[0].content:
            return "- Ann's cousin Perrin repairs nets at Gullwick.\n- Tom fears the tide."
        return "Aye."

    backend = InstantBackend(script)
    lines = ["Perrin is my cousin.", "He fixes nets.", "Down at Gullwick.", "Nice."]
    times = spread(lines, days=0.01)
    async with memory_app(backend, memory={"observations": "on"}) as (app, adapter):
        for text, time in zip(lines, times, strict=True):
            await adapter.push(said(text, ROOM, ANN, time=time))
        await app.wait_idle()
        memory = app.memory
        assert memory is not None
        await memory.flush()
        found = await memory.recall(
            "who repairs nets?",
            Scope.of(ROOM, character="bram", whole_server=False),
            now=datetime.now(UTC),
        )
    notes = [r.memory for r in found if r.memory.kind == "note"]
    assert [n.text for n in notes] == ["Ann's cousin Perrin repairs nets at Gullwick."]
    assert notes[0].witnesses == {"mira", "bram"}
    place = next(i for i, r in enumerate(found) if r.memory.kind == "note")
    following = [(r.memory.text, r.via) for r in found[place + 1 : place + 4]]
    assert following == [(text, notes[0].id) for text in lines[:3]]
    prompts = [r for r in backend.requests if "chronicle" in r.messages[0].content]
    assert len(prompts) == 1
    assert prompts[0].messages[1].content.splitlines()[0] == "Ann: Perrin is my cousin."


async def test_an_embedding_server_that_fails_costs_no_reply_and_no_memory(
    memory_app: MemoryApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_service, "QUIET_SECONDS", 0.1)
    async with OpenAIServer() as server:
        server.script(*[error_reply(503, "embedding model is loading")] * 50)
        settings = {
            "embeddings": {"type": "openai", "base_url": server.base_url, "model": "e5"},
            "flush_seconds": 0.2,
        }
        async with memory_app(memory=settings) as (app, adapter):
            await adapter.push(said("Mira, the ferry to Saltmarsh sank!", ROOM, ANN))
            await app.wait_idle()
            memory = app.memory
            assert memory is not None
            found = []
            async with asyncio.timeout(10):
                while not found:
                    await asyncio.sleep(0.05)
                    found = await memory.recall(
                        "ferry Saltmarsh",
                        Scope.of(ROOM, character="mira", whole_server=False),
                        now=datetime.now(UTC),
                    )
            # Mira's answer may come along: it is remembered with the words said before it.
            assert found[0].memory.text == "Mira, the ferry to Saltmarsh sank!"
            async with asyncio.timeout(10):
                while await memory.ledger.backlog() != 2:
                    await asyncio.sleep(0.05)
        assert [r.identity.name for r in adapter.replies] == ["Mira"]
