"""Telegram end to end: real python-telegram-bot against a fake Bot API on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from botkit.adapters.telegram import TelegramAdapter

from botkit.app import App
from botkit.backends.base import ChatRequest
from botkit.config import parse_config
from botkit.events import ChannelKey
from botkit.testing import InstantBackend
from tests.support.apps import LONG_REPLY, ping_pong, running_app, until
from tests.support.telegram_server import GROUP_ID, SHARED_TOKEN, FakeTelegram, Sent

ROOM = ChannelKey("telegram", str(GROUP_ID), str(GROUP_ID))
ANN, ADMIN = 7001, 7002
MIRA_TOKEN = "201:mira"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    server.admins.add(ADMIN)
    await server.start()
    yield server
    await server.close()


@asynccontextmanager
async def running(
    fake: FakeTelegram,
    tmp_path: Path,
    pack_dir: Path,
    script: Any,
    *,
    bots: dict[str, str] | None = None,
    **conversation: Any,
) -> AsyncIterator[App]:
    adapter = TelegramAdapter(token=SHARED_TOKEN, bots=bots, base_url=fake.base_url, poll_timeout=1)
    async with running_app(adapter, tmp_path, pack_dir, script, **conversation) as app:
        yield app


def replies(fake: FakeTelegram) -> list[Sent]:
    return [s for s in fake.sent if s.parse_mode == "HTML" or s.token != SHARED_TOKEN]


def notices(fake: FakeTelegram) -> list[str]:
    return [s.text for s in fake.sent if s.token == SHARED_TOKEN and s.parse_mode is None]


async def test_a_message_gets_a_prefixed_reply_from_the_shared_bot(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Come in & sit, love.") as app:
        assert [c["command"] for c in fake.commands[SHARED_TOKEN]][:3] == [
            "cast",
            "characters",
            "info",
        ]
        update = fake.push(ANN, "Ann", "Mira, is there a room free tonight?")
        await until(lambda: bool(replies(fake)))
        await app.wait_idle()
        reply = replies(fake)[0]
        assert reply.text == "<b>Mira:</b> Come in &amp; sit, love."
        assert reply.reply_to == update["message"]["message_id"]
        assert ("100:shared", "typing") in fake.actions
        turns = await app.store.recent_turns(ROOM, 10)
        assert [(t.speaker_name, t.text) for t in turns] == [
            ("Ann", "Mira, is there a room free tonight?"),
            ("Mira", "Come in & sit, love."),
        ]


async def test_a_character_with_its_own_bot_speaks_through_it(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(
        fake, tmp_path, pack_dir, "Aye.", bots={"mira": MIRA_TOKEN}, max_hops=0
    ) as app:
        fake.push(ANN, "Ann", "Mira, hello!")
        fake.push(ANN, "Ann", "Bram, hello!")
        await until(lambda: len(replies(fake)) == 2)
        await app.wait_idle()
        assert [(s.token, s.text) for s in replies(fake)] == [
            (MIRA_TOKEN, "Aye."),
            (SHARED_TOKEN, "<b>Bram:</b> Aye."),
        ]
        assert await app.store.character_of_message(ROOM, str(replies(fake)[0].message_id)) == (
            "mira"
        )


async def test_cast_commands_need_a_chat_administrator(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Hello.") as app:

        async def command(user: int, text: str) -> str:
            before = len(notices(fake))
            fake.push(user, "Someone", text)
            await until(lambda: len(notices(fake)) > before)
            await app.wait_idle()
            return notices(fake)[-1]

        assert await command(ANN, "/add wren") == (
            "Cannot do that: /add changes this channel and needs the manage permission"
        )
        assert await app.store.get_cast(ROOM) is None
        assert await command(ADMIN, "/add@bot100 wren") == "Joined: Wren"
        assert await command(ANN, "/swap bram mira") == (
            "Cannot do that: /swap changes this channel and needs the manage permission"
        )
        assert await command(ADMIN, "/remove wren") == "Wren left."
        assert await command(ADMIN, "/swap bram wren") == "Bram left; Wren joined."
        assert await app.store.get_cast(ROOM) == ["mira", "wren"]


async def test_flood_control_is_waited_out_and_repeats_get_no_second_reply(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Aye.", max_hops=0) as app:
        fake.fail_next("sendMessage", times=1, retry_after=1)
        update = fake.push(ANN, "Ann", "Bram, any fish today?")
        await until(lambda: bool(replies(fake)))
        await app.wait_idle()
        fake.repeat(update)
        fake.push(ANN, "Ann", "Mira, and you?")
        await until(lambda: len(replies(fake)) == 2)
        await app.wait_idle()
        assert [s.text for s in replies(fake)] == ["<b>Bram:</b> Aye.", "<b>Mira:</b> Aye."]


async def test_a_long_reply_is_split_within_4096_characters_in_order(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, LONG_REPLY, max_hops=0) as app:
        fake.push(ANN, "Ann", "Mira, tell me everything.")
        await until(lambda: len(replies(fake)) >= 3)
        await app.wait_idle()
        texts = [s.text.removeprefix("<b>Mira:</b> ") for s in replies(fake)]
        assert all(len("Mira: " + text) <= 4096 for text in texts)
        assert " ".join(texts) == LONG_REPLY


async def test_characters_answering_each_other_stop_at_the_hop_limit(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, ping_pong, max_hops=2) as app:
        fake.push(ANN, "Ann", "Mira, what happened at the lighthouse?")
        await until(lambda: len(replies(fake)) == 3)
        await app.wait_idle()
        names = [s.text.split("</b>")[0].removeprefix("<b>") for s in replies(fake)]
        assert names == ["Mira:", "Bram:", "Mira:"]


class InterruptedPingPong(InstantBackend):
    """Mira and Bram hand the turn to each other; during the second turn a member writes."""

    def __init__(self, fake: FakeTelegram) -> None:
        super().__init__(ping_pong)
        self.fake = fake
        self.store: Any = None

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        if len(self.requests) == 1:
            before = await self.store.count_turns(ROOM)
            self.fake.push(ANN, "Ann", "Enough, you two. Wren, are you there?")
            turns = 0
            while turns <= before:
                await asyncio.sleep(0.01)
                turns = await self.store.count_turns(ROOM)
        async for fragment in super().stream(request):
            yield fragment


async def test_a_member_writing_ends_the_characters_exchange(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    backend = InterruptedPingPong(fake)
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira", "bram", "wren"], "max_hops": 10},
        }
    )
    adapter = TelegramAdapter(token=SHARED_TOKEN, base_url=fake.base_url, poll_timeout=1)
    async with App(config, backends={"b": backend}, adapters={"telegram": adapter}) as app:
        backend.store = app.store
        fake.push(ANN, "Ann", "Mira, what happened at the lighthouse?")
        await until(lambda: len(replies(fake)) >= 3)
        await app.wait_idle()
    names = [s.text.split("</b>")[0].removeprefix("<b>") for s in replies(fake)]
    assert names[:3] == ["Mira:", "Bram:", "Wren:"]
