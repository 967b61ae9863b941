"""A conversation picks its history up from the store: each message in it once, in order."""

from __future__ import annotations

from pathlib import Path

from botkit.app import App
from botkit.backends.base import ChatRequest
from botkit.config import parse_config
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.testing import InstantBackend, RecordingAdapter

ROOM = ChannelKey("test", "guild-1", "tavern")
MARKET = ChannelKey("test", "guild-1", "market")
ANN = Author("u-ann", "Ann")


def said(n: int, text: str, channel: ChannelKey = ROOM) -> MessageEvent:
    return MessageEvent(
        event_id=f"ev-{n}", channel=channel, author=ANN, text=text, message_id=f"msg-{n}"
    )


def times_in_prompt(request: ChatRequest, text: str) -> int:
    return sum(message.content.count(text) for message in request.messages)


def make_app(
    tmp_path: Path, pack_dir: Path, backend: InstantBackend
) -> tuple[App, RecordingAdapter]:
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
            "memory": {"enabled": False},
        }
    )
    adapter = RecordingAdapter("test")
    app = App(
        config, backends={"instant": backend}, adapters={"test": adapter}, max_conversations=1
    )
    return app, adapter


async def test_the_first_message_after_a_start_is_in_the_prompt_once(
    tmp_path: Path, pack_dir: Path
) -> None:
    first = "Mira, is the lighthouse lit tonight?"
    second = "Mira, and the harbour lamps?"
    backend = InstantBackend("Aye, love.")
    app, adapter = make_app(tmp_path, pack_dir, backend)
    async with app:
        await adapter.push(said(1, first))
        await app.wait_idle()
    assert times_in_prompt(backend.requests[-1], first) == 1

    app, adapter = make_app(tmp_path, pack_dir, backend)
    async with app:
        await adapter.push(said(2, second))
        await app.wait_idle()
    assert len(backend.requests) == 2
    assert times_in_prompt(backend.requests[-1], second) == 1
    assert times_in_prompt(backend.requests[-1], first) == 1


async def test_a_message_after_the_conversation_was_evicted_is_in_the_prompt_once(
    tmp_path: Path, pack_dir: Path
) -> None:
    backend = InstantBackend("Aye, love.")
    app, adapter = make_app(tmp_path, pack_dir, backend)
    async with app:
        await adapter.push(said(1, "Mira, is the lighthouse lit tonight?"))
        await app.wait_idle()
        await adapter.push(said(2, "Bram, any fish today?", MARKET))
        await app.wait_idle()
        await adapter.push(said(3, "Mira, and the harbour lamps?"))
        await app.wait_idle()
    prompt = backend.requests[-1]
    assert times_in_prompt(prompt, "Mira, and the harbour lamps?") == 1
    assert times_in_prompt(prompt, "Mira, is the lighthouse lit tonight?") == 1
    assert times_in_prompt(prompt, "Bram, any fish today?") == 0
