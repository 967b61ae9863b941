"""Conversations end to end through the App: replies, hop limit, NOBODY, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from itertools import count
from typing import Any

import pytest

from botkit.app import App
from botkit.backends.base import BackendTimeout, BackendUnavailable, ChatRequest
from botkit.events import Author, ChannelKey, CommandEvent, MessageEvent, Permission
from botkit.testing import InstantBackend, RecordingAdapter

AppFactory = Callable[..., Any]

ROOM = ChannelKey("test", "guild-1", "tavern")
ANN = Author("u-ann", "Ann")
_ids = count()


def said(text: str, channel: ChannelKey = ROOM) -> MessageEvent:
    n = next(_ids)
    return MessageEvent(
        event_id=f"ev-{n}", channel=channel, author=ANN, text=text, message_id=f"msg-{n}"
    )


def command(name: str, *args: str, manage: bool = True) -> CommandEvent:
    return CommandEvent(
        event_id=f"cmd-{next(_ids)}",
        channel=ROOM,
        author=ANN,
        name=name,
        args=args,
        permissions=Permission.MANAGE if manage else Permission.NONE,
    )


def speaker(request: ChatRequest) -> str:
    return request.prefix.rstrip(":")


def ping_pong(request: ChatRequest) -> str:
    other = "Bram" if speaker(request) == "Mira" else "Mira"
    return f"{other}, what do you make of it?"


async def push(app: App, adapter: RecordingAdapter, event: MessageEvent | CommandEvent) -> None:
    await adapter.push(event)
    await app.wait_idle()


async def test_an_addressed_character_replies_and_it_is_stored(make_app: AppFactory) -> None:
    backend = InstantBackend("Welcome in, love.")
    async with make_app(backend) as (app, adapter):
        event = said("Mira, is there a room free tonight?")
        await push(app, adapter, event)
        assert [r.identity.name for r in adapter.replies] == ["Mira"]
        reply = adapter.replies[0]
        assert reply.text.strip() == "Welcome in, love."
        assert reply.reply_to == event.message_id
        turns = await app.store.recent_turns(ROOM, 10)
        assert [(t.speaker_name, t.is_character) for t in turns] == [("Ann", False), ("Mira", True)]
        assert await app.store.character_of_message(ROOM, reply.message_id) == "mira"


async def test_the_message_is_committed_before_the_reply_is_sent(make_app: AppFactory) -> None:
    stored_before_reply: list[int] = []

    async def check(app: App) -> None:
        stored_before_reply.append(await app.store.count_turns(ROOM))

    backend = InstantBackend("Aye.")
    async with make_app(backend) as (app, adapter):
        original = adapter.post_reply

        async def post_reply(**kwargs: object) -> str | None:
            await check(app)
            return await original(**kwargs)  # type: ignore[arg-type]

        adapter.post_reply = post_reply  # type: ignore[method-assign]
        await push(app, adapter, said("Bram, any fish today?"))
    assert stored_before_reply == [1]


async def test_characters_answering_each_other_stop_at_the_hop_limit(
    make_app: AppFactory,
) -> None:
    backend = InstantBackend(ping_pong)
    async with make_app(backend, max_hops=3) as (app, adapter):
        await push(app, adapter, said("Mira, what happened at the lighthouse?"))
        names = [r.identity.name for r in adapter.replies]
        assert names == ["Mira", "Bram", "Mira", "Bram"]


async def test_zero_hops_means_only_the_addressed_character_answers(
    make_app: AppFactory,
) -> None:
    async with make_app(InstantBackend(ping_pong), max_hops=0) as (app, adapter):
        await push(app, adapter, said("Mira, what happened?"))
        assert [r.identity.name for r in adapter.replies] == ["Mira"]


class InterruptingBackend(InstantBackend):
    """Plays ping-pong; while writing the chain's second turn, a human speaks up."""

    def __init__(self, interjection: MessageEvent) -> None:
        super().__init__(ping_pong)
        self.adapter: RecordingAdapter | None = None
        self.interjection = interjection

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        if len(self.requests) == 1 and self.adapter is not None:
            await self.adapter.push(self.interjection)
        async for fragment in super().stream(request):
            yield fragment


async def test_a_human_message_ends_a_character_chain(make_app: AppFactory) -> None:
    interjection = said("Enough about that. Wren, are you there?")
    backend = InterruptingBackend(interjection)
    async with make_app(backend, max_hops=10, cast=["mira", "bram", "wren"]) as (app, adapter):
        backend.adapter = adapter
        await push(app, adapter, said("Mira, what happened?"))
        replies = [(r.identity.name, r.reply_to) for r in adapter.replies]
    assert [name for name, _ in replies[:2]] == ["Mira", "Bram"]
    assert replies[2] == ("Wren", interjection.message_id)


async def test_nobody_answers_small_talk_between_humans(make_app: AppFactory) -> None:
    backend = InstantBackend("Should not be said.")
    async with make_app(backend) as (app, adapter):
        await push(app, adapter, said("ok see you tomorrow at the office then"))
        assert adapter.replies == []
        assert backend.requests == []


async def test_empty_messages_get_no_reply(make_app: AppFactory) -> None:
    async with make_app(InstantBackend("Hm?")) as (app, adapter):
        await push(app, adapter, said("   "))
        assert adapter.replies == []


async def test_a_failing_backend_gives_a_clear_notice_and_the_channel_keeps_working(
    make_app: AppFactory,
) -> None:
    failures = count()

    def script(request: ChatRequest) -> str:
        if next(failures) == 0:
            raise BackendTimeout("backend 'instant': no reply within 30 s")
        return "Back again."

    async with make_app(InstantBackend(script), max_hops=0) as (app, adapter):
        await push(app, adapter, said("Mira, hello?"))
        assert adapter.replies == []
        assert adapter.notices[-1][1] == "Mira could not reply just now."
        await push(app, adapter, said("Mira, hello again?"))
        assert [r.text.strip() for r in adapter.replies] == ["Back again."]
        turns = await app.store.recent_turns(ROOM, 10)
        assert [t.text for t in turns] == ["Mira, hello?", "Mira, hello again?", "Back again."]


async def test_a_backend_failure_shows_no_internals_in_chat_only_in_the_log(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    url = "http://eve:hunter2-secret-pw@10.0.0.5:8000/v1/chat/completions"

    def script(request: ChatRequest) -> str:
        raise BackendUnavailable(f"backend 'vllm': cannot connect to {url}: [Errno 111] refused")

    async with make_app(InstantBackend(script), max_hops=0) as (app, adapter):
        await push(app, adapter, said("Mira, hello?"))
    notice = adapter.notices[-1][1]
    assert notice == "Mira could not reply just now."
    for internal in ("http", "hunter2", "10.0.0.5", "vllm", "Errno", "cannot connect"):
        assert internal not in notice
    assert "Mira could not reply: backend 'vllm': cannot connect" in caplog.text


async def test_a_runaway_reply_is_cut_at_max_reply_chars_and_the_channel_goes_on(
    make_app: AppFactory,
) -> None:
    replies = iter(["The tide is turning, love. " * 20_000, "Aye."])
    backend = InstantBackend(lambda request: next(replies))
    async with make_app(backend, max_hops=0, max_reply_chars=500) as (app, adapter):
        await push(app, adapter, said("Mira, what news?"))
        await push(app, adapter, said("Mira, and now?"))
        texts = [t.text for t in await app.store.recent_turns(ROOM, 10)]
    assert 0 < len(texts[1]) <= 500
    assert texts[1].endswith("love.")
    assert texts[3] == "Aye."


async def test_keyed_knowledge_reaches_the_prompt(make_app: AppFactory) -> None:
    backend = InstantBackend("It went dark.")
    async with make_app(backend) as (app, adapter):
        await push(app, adapter, said("Mira, tell me about the lighthouse."))
    assert "The lighthouse keeper vanished a month ago." in backend.requests[0].messages[0].content


async def test_cast_commands_change_who_is_here(make_app: AppFactory) -> None:
    async with make_app(InstantBackend("Hello.")) as (app, adapter):
        await push(app, adapter, command("add", "wren"))
        await push(app, adapter, command("swap", "bram", "innkeeper"))
        assert adapter.notices[-1][1].startswith("Cannot do that: Mira is already here")
        await push(app, adapter, command("remove", "bram"))
        await push(app, adapter, command("cast"))
        assert adapter.notices[-1][1].startswith("Here: Mira (mira)")
        assert "Bram" not in adapter.notices[-1][1]
        assert await app.store.get_cast(ROOM) == ["mira", "wren"]


async def test_cast_changes_need_the_manage_permission(make_app: AppFactory) -> None:
    async with make_app(InstantBackend("Hello.")) as (app, adapter):
        await push(app, adapter, command("add", "wren", manage=False))
        assert adapter.notices[-1][1] == (
            "Cannot do that: /add changes this channel and needs the manage permission"
        )
        assert await app.store.get_cast(ROOM) is None
        conversation = await app.conversation(ROOM)
        assert [c.id for c in conversation.cast] == ["mira", "bram"]


async def test_say_makes_a_character_speak(make_app: AppFactory) -> None:
    async with make_app(InstantBackend("Nets need mending."), max_hops=0) as (app, adapter):
        await push(app, adapter, command("say", "bram", manage=False))
        assert [r.identity.name for r in adapter.replies] == ["Bram"]
        await push(app, adapter, command("say", "wren"))
        assert "Wren is not here" in adapter.notices[-1][1]


async def test_unknown_commands_and_characters_are_named(make_app: AppFactory) -> None:
    async with make_app(InstantBackend("Hello.")) as (app, adapter):
        await push(app, adapter, command("dance"))
        assert adapter.notices[-1][1] == "Cannot do that: unknown command /dance; try /help"
        await push(app, adapter, command("info", "gandalf"))
        assert "no character called 'gandalf'" in adapter.notices[-1][1]


async def test_channels_and_servers_have_separate_casts(make_app: AppFactory) -> None:
    other = ChannelKey("test", "guild-2", "tavern")
    async with make_app(InstantBackend("Hello.")) as (app, adapter):
        await push(app, adapter, command("remove", "bram"))
        assert [c.id for c in (await app.conversation(ROOM)).cast] == ["mira"]
        assert [c.id for c in (await app.conversation(other)).cast] == ["mira", "bram"]


async def test_messages_queued_together_are_each_answered(make_app: AppFactory) -> None:
    async with make_app(InstantBackend("Aye."), max_hops=3) as (app, adapter):
        first, second = said("Mira, hello!"), said("Bram, hello!")
        await adapter.push(first)
        await adapter.push(second)
        await app.wait_idle()
        assert [(r.identity.name, r.reply_to) for r in adapter.replies] == [
            ("Mira", first.message_id),
            ("Bram", second.message_id),
        ]


class GatedBackend(InstantBackend):
    """Answers like InstantBackend, but its first reply waits until ``gate`` opens."""

    def __init__(self, script: Any = "Aye.") -> None:
        super().__init__(script)
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        self.started.set()
        await self.gate.wait()
        async for word in super().stream(request):
            yield word


async def test_a_burst_of_messages_is_kept_whole_and_answered_together(
    make_app: AppFactory,
) -> None:
    backend = GatedBackend(speaker)
    async with make_app(backend, max_hops=0) as (app, adapter):
        burst = [said("Mira, hello!")]
        await adapter.push(burst[0])
        await backend.started.wait()
        burst += [said(f"Mira, what about number {n}?") for n in range(25)]
        burst += [said("Bram, are you still there?")]
        burst += [said(f"Last words {n}.") for n in range(2)]
        for message in burst[1:]:
            await adapter.push(message)
        backend.gate.set()
        await app.wait_idle()
        answered = [r.reply_to for r in adapter.replies]
        assert answered[0] == burst[0].message_id
        assert len(backend.requests) <= 5
        assert set(answered) <= {m.message_id for m in (burst[0], *burst[-3:])}
        assert "Bram" in [r.identity.name for r in adapter.replies[1:]]
        stored = [t.message_id for t in await app.store.recent_turns(ROOM, 100)]
        assert all(m.message_id in stored for m in burst)
        assert await app.store.unfinished_messages() == []


async def test_everyone_spoken_to_answers_even_when_a_message_follows_quickly(
    make_app: AppFactory,
) -> None:
    backend = GatedBackend(speaker)
    async with make_app(backend, max_hops=0) as (app, adapter):
        await adapter.push(said("Mira and Bram, what news from the harbour?"))
        await backend.started.wait()
        await adapter.push(said("I heard a ship came in."))
        backend.gate.set()
        await app.wait_idle()
        assert sorted({r.identity.name for r in adapter.replies}) == ["Bram", "Mira"]
