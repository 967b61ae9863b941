"""The core hands replies to platforms as they declare: streamed, or whole and split."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from botkit import reply_delivery
from botkit.adapter import Capabilities
from botkit.events import ChannelKey, Identity
from botkit.reply_delivery import deliver_reply
from botkit.testing import RecordingAdapter

ROOM = ChannelKey("test", "guild-1", "tavern")
MIRA = Identity("mira", "Mira")


async def words(*parts: str, pause: float = 0.0) -> AsyncIterator[str]:
    for part in parts:
        await asyncio.sleep(pause)
        yield part


class Platform(RecordingAdapter):
    """A recording adapter with the capabilities a test gives it."""

    def __init__(self, capabilities: Capabilities, *, typing_fails: bool = False) -> None:
        super().__init__("test")
        self.capabilities = capabilities
        self.typing: list[str] = []
        self.streamed: list[list[str]] = []
        self._typing_fails = typing_fails

    async def show_typing(self, *, channel: ChannelKey, identity: Identity) -> None:
        self.typing.append(identity.name)
        if self._typing_fails:
            raise RuntimeError("no typing today")

    async def stream_reply(
        self,
        *,
        channel: ChannelKey,
        identity: Identity,
        fragments: AsyncIterator[str],
        reply_to: str | None = None,
    ) -> str | None:
        self.streamed.append([fragment async for fragment in fragments])
        return "streamed-1"


async def test_a_streaming_platform_gets_the_fragments_as_they_come() -> None:
    platform = Platform(Capabilities(personas=True, streaming=True, max_text_len=50))
    got = await deliver_reply(platform, channel=ROOM, identity=MIRA, fragments=words("A", "b"))
    assert (got, platform.streamed, platform.replies) == ("streamed-1", [["A", "b"]], [])


async def test_a_long_reply_is_collected_and_split_to_fit_with_room_for_the_name() -> None:
    platform = Platform(Capabilities(personas=False, streaming=False, max_text_len=24))
    text = "One short line. Another short line. The end."
    fragments = words(*(word + " " for word in text.split(" ")))
    got = await deliver_reply(
        platform, channel=ROOM, identity=MIRA, fragments=fragments, reply_to="m-1"
    )
    pieces = [(r.text, r.reply_to) for r in platform.replies]
    assert pieces == [("One short line.", "m-1"), ("Another short", None), ("line. The end.", None)]
    assert all(len(t) <= 24 - len("Mira: ") for t, _ in pieces)
    assert got == platform.replies[-1].message_id


async def test_an_empty_reply_posts_nothing() -> None:
    platform = Platform(Capabilities(personas=True, streaming=False, max_text_len=20))
    assert (
        await deliver_reply(platform, channel=ROOM, identity=MIRA, fragments=words(" ", "")) is None
    )
    assert platform.replies == []


async def test_typing_shows_at_once_and_is_kept_up_until_the_reply_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reply_delivery, "TYPING_REFRESH", 0.01)
    platform = Platform(Capabilities(personas=True, streaming=False, max_text_len=99, typing=True))
    await deliver_reply(
        platform, channel=ROOM, identity=MIRA, fragments=words("Slow", " reply.", pause=0.05)
    )
    shown = len(platform.typing)
    assert shown >= 2
    await asyncio.sleep(0.05)
    assert len(platform.typing) == shown
    assert [r.text for r in platform.replies] == ["Slow reply."]


async def test_a_failing_typing_indicator_costs_only_the_indicator() -> None:
    platform = Platform(
        Capabilities(personas=True, streaming=False, max_text_len=99, typing=True),
        typing_fails=True,
    )
    await deliver_reply(platform, channel=ROOM, identity=MIRA, fragments=words("Still here."))
    assert (platform.typing, [r.text for r in platform.replies]) == (["Mira"], ["Still here."])


async def test_no_typing_indicator_where_the_platform_declares_none() -> None:
    platform = Platform(Capabilities(personas=True, streaming=False, max_text_len=99))
    await deliver_reply(platform, channel=ROOM, identity=MIRA, fragments=words("Hello."))
    assert platform.typing == []
