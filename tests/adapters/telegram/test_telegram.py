"""Telegram end to end: real python-telegram-bot against a fake Bot API on loopback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from botkit.adapters.telegram import TelegramAdapter

from botkit.adapter import AdapterContext
from botkit.app import App, ConfigurationError
from botkit.backends.base import ChatRequest
from botkit.config import parse_config
from botkit.events import ChannelKey
from botkit.pack_install import PackInstaller
from botkit.plugin import menu_entries
from botkit.testing import InstantBackend
from tests.support.apps import LONG_REPLY, ping_pong, running_app, until
from tests.support.telegram_server import GROUP_ID, SHARED_TOKEN, FakeTelegram, Member, Sent

ROOM = ChannelKey("telegram", str(GROUP_ID), str(GROUP_ID))
ANN = Member(7001, "Ann")
ADMIN = Member(7002, "Captain")
MIRA_TOKEN = "201:mira-secret-token"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    server.statuses[ADMIN.id] = "administrator"
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


async def idle() -> None:
    """A ``wait_idle`` for adapters built without an App."""


def say(fake: FakeTelegram, user: Member, text: str, **message: Any) -> dict[str, Any]:
    """``user`` writes in the group."""
    return fake.push_message(GROUP_ID, user, text, **message)


def replies(fake: FakeTelegram) -> list[Sent]:
    """Messages characters posted (prefixed by the shared bot, or by their own bots)."""
    return [s for s in fake.sent if s.parse_mode == "HTML" or s.token != SHARED_TOKEN]


def notices(fake: FakeTelegram) -> list[str]:
    """Plain messages of the shared bot: answers to commands."""
    return [s.text for s in fake.sent if s.token == SHARED_TOKEN and s.parse_mode is None]


def speakers(fake: FakeTelegram) -> list[str]:
    """The names in the prefixes of the replies, in order."""
    return [s.text.split(":</b>")[0].removeprefix("<b>") for s in replies(fake)]


async def test_a_message_gets_a_prefixed_reply_from_the_shared_bot(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Come in & sit, love.") as app:
        menu = [c["command"] for c in fake.commands[SHARED_TOKEN]]
        assert set(menu) == set(menu_entries(app.command_list))
        assert {"cast", "character", "memory", "roll", "filter"} <= set(menu)
        update = say(fake, ANN, "Mira, is there a room free tonight?")
        await until(lambda: bool(replies(fake)))
        await app.wait_idle()
        reply = replies(fake)[0]
        assert reply.text == "<b>Mira:</b> Come in &amp; sit, love."
        assert reply.reply_to == update["message"]["message_id"]
        assert (SHARED_TOKEN, "typing") in fake.actions
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
        say(fake, ANN, "Mira, hello!")
        await until(lambda: len(replies(fake)) == 1)
        say(fake, ANN, "Bram, hello!")
        await until(lambda: len(replies(fake)) == 2)
        await app.wait_idle()
        assert [(s.token, s.text) for s in replies(fake)] == [
            (MIRA_TOKEN, "Aye."),
            (SHARED_TOKEN, "<b>Bram:</b> Aye."),
        ]
        assert (MIRA_TOKEN, "typing") in fake.actions
        mira_message = str(replies(fake)[0].message_id)
        assert await app.store.character_of_message(ROOM, mira_message) == "mira"
        turns = await app.store.recent_turns(ROOM, 10)
        assert [t.speaker_name for t in turns] == ["Ann", "Mira", "Ann", "Bram"]


async def test_mentioning_a_characters_own_bot_addresses_that_character(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(
        fake, tmp_path, pack_dir, "You rang?", bots={"mira": MIRA_TOKEN}, max_hops=0
    ) as app:
        say(fake, ANN, "@bot201 are you awake?")
        await until(lambda: bool(replies(fake)))
        await app.wait_idle()
        assert [(s.token, s.text) for s in replies(fake)] == [(MIRA_TOKEN, "You rang?")]


async def test_a_character_whose_bot_is_not_in_the_chat_speaks_through_the_shared_bot(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    fake.outsiders.add(MIRA_TOKEN)
    async with running(
        fake, tmp_path, pack_dir, "Still here.", bots={"mira": MIRA_TOKEN}, max_hops=0
    ) as app:
        say(fake, ANN, "Mira?")
        await until(lambda: bool(replies(fake)))
        await app.wait_idle()
        assert [(s.token, s.text) for s in replies(fake)] == [
            (SHARED_TOKEN, "<b>Mira:</b> Still here.")
        ]


async def test_cast_commands_need_a_chat_administrator(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Hello.") as app:

        async def command(user: Member, text: str, chat_id: int = GROUP_ID) -> Sent:
            before = len(notices(fake))
            fake.push_message(chat_id, user, text)
            await until(lambda: len(notices(fake)) > before)
            await app.wait_idle()
            return [s for s in fake.sent if s.parse_mode is None][-1]

        refused = await command(ANN, "/add wren")
        assert refused.text == (
            "Cannot do that: /add changes this channel and needs the manage permission"
        )
        assert refused.reply_to is not None
        assert await app.store.get_cast(ROOM) is None
        assert (await command(ADMIN, "/add@bot100 wren")).text == "Joined: Wren"
        assert await app.store.get_cast(ROOM) == ["mira", "bram", "wren"]
        assert (await command(ANN, "/swap bram wren")).text == (
            "Cannot do that: /swap changes this channel and needs the manage permission"
        )
        assert await app.store.get_cast(ROOM) == ["mira", "bram", "wren"]
        assert (await command(ADMIN, "/remove wren")).text == "Wren left."
        assert (await command(ADMIN, "/swap bram wren")).text == "Bram left; Wren joined."
        assert await app.store.get_cast(ROOM) == ["mira", "wren"]

        private = ChannelKey("telegram", str(ANN.id), str(ANN.id))
        assert (await command(ANN, "/add wren", chat_id=ANN.id)).text == "Joined: Wren"
        assert await app.store.get_cast(private) == ["mira", "bram", "wren"]


async def test_pack_list_shows_the_installed_packs(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    folder = tmp_path / "cove"
    folder.mkdir()
    (folder / "pack.yaml").write_text("name: cove\nversion: 2.0.0\ncharacters: [tess.yaml]\n")
    (folder / "tess.yaml").write_text("id: tess\nname: Tess\npersona: [Tess runs boats.]\n")
    installed = (await PackInstaller(tmp_path / "data").install(str(folder))).entry
    async with running(fake, tmp_path, pack_dir, "Hello.") as app:
        assert "pack" in {c["command"] for c in fake.commands[SHARED_TOKEN]}
        assert app.characters.get("tess") is not None
        say(fake, ANN, "/pack list")
        await until(lambda: bool(notices(fake)))
        await app.wait_idle()
        assert notices(fake) == [
            f"cove 2.0.0 from {folder} (folder, commit {installed.short_commit})"
        ]
        say(fake, ANN, "/pack remove cove")
        await until(lambda: len(notices(fake)) == 2)
        await app.wait_idle()
        assert notices(fake)[1].startswith("Cannot do that: /pack remove is only for")
        assert app.characters.get("tess") is not None


async def test_flood_control_is_waited_out_and_repeats_get_no_second_reply(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Aye.", max_hops=0) as app:
        fake.fail_next("sendMessage", times=2, retry_after=1)
        update = say(fake, ANN, "Bram, any fish today?")
        await until(lambda: bool(replies(fake)))
        await app.wait_idle()
        fake.redeliver(update["update_id"])
        say(fake, ANN, "Mira, and you?")
        await until(lambda: len(replies(fake)) == 2)
        await app.wait_idle()
        assert [s.text for s in replies(fake)] == ["<b>Bram:</b> Aye.", "<b>Mira:</b> Aye."]
        assert len(await app.store.recent_turns(ROOM, 10)) == 4


async def test_a_long_reply_is_split_within_4096_characters_in_order(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, LONG_REPLY, max_hops=0) as app:
        update = say(fake, ANN, "Mira, tell me everything.")
        await until(lambda: len(replies(fake)) >= 3)
        await app.wait_idle()
        pieces = replies(fake)
        texts = [s.text.removeprefix("<b>Mira:</b> ") for s in pieces]
        assert all(len("Mira: " + text) <= 4096 for text in texts)
        assert " ".join(texts) == LONG_REPLY
        assert [s.reply_to for s in pieces] == [update["message"]["message_id"]] + [None] * (
            len(pieces) - 1
        )


async def test_a_forum_topic_is_its_own_conversation(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "In the topic.", max_hops=0) as app:
        say(fake, ANN, "Mira, over here.", thread_id=42)
        await until(lambda: bool(replies(fake)))
        await app.wait_idle()
        reply = replies(fake)[0]
        assert (reply.thread_id, reply.text) == (42, "<b>Mira:</b> In the topic.")
        topic = ChannelKey("telegram", str(GROUP_ID), str(GROUP_ID), "42")
        assert [t.speaker_name for t in await app.store.recent_turns(topic, 10)] == [
            "Ann",
            "Mira",
        ]
        assert await app.store.recent_turns(ROOM, 10) == []


async def test_characters_answering_each_other_stop_at_the_hop_limit(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, ping_pong, max_hops=2) as app:
        say(fake, ANN, "Mira, what happened at the lighthouse?")
        await until(lambda: len(replies(fake)) == 3)
        await app.wait_idle()
        assert speakers(fake) == ["Mira", "Bram", "Mira"]


class InterruptedPingPong(InstantBackend):
    """Mira and Bram hand the turn to each other; during the second turn a member writes."""

    def __init__(self, fake: FakeTelegram) -> None:
        super().__init__(ping_pong)
        self.fake = fake
        self.store: Any = None

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        if len(self.requests) == 1:
            before = await self.store.count_turns(ROOM)
            say(self.fake, ANN, "Enough, you two. Wren, are you there?")
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
        say(fake, ANN, "Mira, what happened at the lighthouse?")
        await until(lambda: len(replies(fake)) >= 3)
        await app.wait_idle()
    assert speakers(fake)[:3] == ["Mira", "Bram", "Wren"]


async def test_tokens_stay_out_of_logs_and_repr(
    fake: FakeTelegram,
    tmp_path: Path,
    pack_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    options = {"token": SHARED_TOKEN, "bots": {"mira": MIRA_TOKEN}, "base_url": fake.base_url}
    context = AdapterContext(data_dir=tmp_path, wait_idle=idle)
    adapter = TelegramAdapter.from_config({**options, "poll_timeout": 1}, context)
    config = parse_config({"data_dir": str(tmp_path / "data"), "packs": [str(pack_dir)]})
    backends = {"b": InstantBackend("Aye.")}
    async with App(config, backends=backends, adapters={"telegram": adapter}) as app:
        say(fake, ANN, "Mira, hello.")
        await until(lambda: bool(replies(fake)))
        await app.wait_idle()
    assert "getUpdates" in caplog.text
    assert SHARED_TOKEN not in caplog.text
    assert MIRA_TOKEN not in caplog.text
    assert SHARED_TOKEN not in repr(adapter)
    assert MIRA_TOKEN not in repr(adapter)


@pytest.mark.parametrize("setting", ["token", "bots.mira"])
async def test_a_rejected_token_is_named_by_its_setting_and_never_shown(
    fake: FakeTelegram,
    tmp_path: Path,
    pack_dir: Path,
    caplog: pytest.LogCaptureFixture,
    setting: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.revoked.add(SHARED_TOKEN if setting == "token" else MIRA_TOKEN)
    adapter = TelegramAdapter(
        token=SHARED_TOKEN, bots={"mira": MIRA_TOKEN}, base_url=fake.base_url, poll_timeout=1
    )
    config = parse_config({"data_dir": str(tmp_path / "data"), "packs": [str(pack_dir)]})
    app = App(config, backends={"b": InstantBackend("Aye.")}, adapters={"telegram": adapter})
    with pytest.raises(ConfigurationError) as caught:
        async with app:
            pass
    error = str(caught.value)
    assert error == (
        f"adapters.telegram could not start: ValueError: Telegram rejected the bot token in "
        f"adapters.telegram.{setting} (revoked or mistyped? BotFather shows the current one)"
    )
    for token in (SHARED_TOKEN, MIRA_TOKEN, "mira-secret"):
        assert token not in error
        assert token not in caplog.text


def test_config_is_checked() -> None:
    context = AdapterContext(data_dir=Path("."), wait_idle=idle)
    with pytest.raises(ValueError, match="token is required"):
        TelegramAdapter.from_config({}, context)
    with pytest.raises(ValueError, match="bots must map"):
        TelegramAdapter.from_config({"token": SHARED_TOKEN, "bots": ["mira"]}, context)
    with pytest.raises(ValueError, match="poll_timeout"):
        TelegramAdapter.from_config({"token": SHARED_TOKEN, "poll_timeout": 0}, context)


async def test_policy_switches_turn_taking_for_administrators(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Evening.", max_hops=0) as app:

        async def command(user: Member, text: str) -> str:
            before = len(notices(fake))
            fake.push_message(GROUP_ID, user, text)
            await until(lambda: len(notices(fake)) > before)
            await app.wait_idle()
            return notices(fake)[-1]

        assert await command(ANN, "/policy manual") == (
            "Cannot do that: /policy changes this channel and needs the manage permission"
        )
        assert (await command(ADMIN, "/policy@bot100 manual")).startswith(
            "Turn-taking here is now manual"
        )
        say(fake, ANN, "Hello everyone!")
        await app.wait_idle()
        assert replies(fake) == []
        say(fake, ANN, "Bram, are you there?")
        await until(lambda: bool(replies(fake)))
        await app.wait_idle()
        assert speakers(fake) == ["Bram"]


async def test_an_update_is_confirmed_only_after_botkit_took_its_message(
    fake: FakeTelegram,
) -> None:
    """A process that dies between fetching an update and storing its message is sent the
    update again: the next poll confirms it only once the sink has returned."""
    stuck = asyncio.Event()
    first = TelegramAdapter(token=SHARED_TOKEN, base_url=fake.base_url, poll_timeout=1)

    async def never_stores(_event: Any) -> None:
        stuck.set()
        await asyncio.Event().wait()

    await first.start(never_stores)
    say(fake, ANN, "Mira, are you there?")
    say(fake, ANN, "Hello?")
    await stuck.wait()
    await asyncio.sleep(1.5)
    await first.stop()

    received: list[str] = []

    async def stores(event: Any) -> None:
        received.append(event.text)

    second = TelegramAdapter(token=SHARED_TOKEN, base_url=fake.base_url, poll_timeout=1)
    await second.start(stores)
    try:
        await until(lambda: len(received) >= 2)
    finally:
        await second.stop()
    assert received == ["Mira, are you there?", "Hello?"]
