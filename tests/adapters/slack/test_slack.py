"""Slack end to end: real slack-bolt and slack-sdk against a fake Slack on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from botkit.adapters.slack import SlackAdapter

from botkit.app import App
from botkit.events import ChannelKey
from tests.support.apps import LONG_REPLY, ping_pong, running_app, until
from tests.support.slack_server import CHANNEL_ID, SIGNING_SECRET, TEAM_ID, FakeSlack

ROOM = ChannelKey("slack", TEAM_ID, CHANNEL_ID)
ANN, ADMIN = "U0ANN", "U0ADMIN"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack()
    server.admins.add(ADMIN)
    await server.start()
    yield server
    await server.close()


@asynccontextmanager
async def running(
    fake: FakeSlack,
    tmp_path: Path,
    pack_dir: Path,
    script: Any,
    *,
    app_token: str | None = None,
    admin_user_group: str | None = None,
    **conversation: Any,
) -> AsyncIterator[App]:
    adapter = SlackAdapter(
        bot_token="xoxb-test",
        signing_secret=SIGNING_SECRET,
        port=0,
        base_url=fake.api_url,
        app_token=app_token,
        admin_user_group=admin_user_group,
    )
    async with running_app(adapter, tmp_path, pack_dir, script, **conversation) as app:
        fake.app_url = adapter.url
        yield app


async def test_a_message_gets_a_reply_under_the_characters_name_and_is_stored(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Come in, love.", max_hops=0) as app:
        event, _ = await fake.say(ANN, "Mira, is there a room free tonight?")
        await until(lambda: bool(fake.posted))
        await app.wait_idle()
        post = fake.posted[0]
        assert (post.channel, post.username, post.text, post.thread_ts) == (
            CHANNEL_ID,
            "Mira",
            "Come in, love.",
            None,
        )
        turns = await app.store.recent_turns(ROOM, 10)
        assert [(t.speaker_name, t.text) for t in turns] == [
            ("Ann", "Mira, is there a room free tonight?"),
            ("Mira", "Come in, love."),
        ]
        assert turns[0].message_id == event["ts"]
        assert await app.store.character_of_message(ROOM, post.ts) == "mira"


async def test_a_threaded_message_is_answered_in_its_thread(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Aye.", max_hops=0) as app:
        await fake.say(ANN, "Bram, any fish?", thread_ts="1699999999.000001")
        await until(lambda: bool(fake.posted))
        await app.wait_idle()
        assert fake.posted[0].thread_ts == "1699999999.000001"
        thread = ChannelKey("slack", TEAM_ID, CHANNEL_ID, "1699999999.000001")
        assert len(await app.store.recent_turns(thread, 10)) == 2


async def answer_to(fake: FakeSlack, app: App, user: str, text: str) -> str:
    """Run ``/botkit text`` as ``user`` and return the answer Slack was sent."""
    before = len(fake.responses)
    assert await fake.command(user, text) == 200
    await until(lambda: len(fake.responses) > before)
    await app.wait_idle()
    return str(fake.responses[-1]["text"])


async def test_cast_commands_need_a_workspace_admin(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Hello.") as app:
        assert await answer_to(fake, app, ANN, "add wren") == (
            "Cannot do that: /add changes this channel and needs the manage permission"
        )
        assert await app.store.get_cast(ROOM) is None
        assert await answer_to(fake, app, ADMIN, "add wren") == "Joined: Wren"
        assert await answer_to(fake, app, ANN, "swap bram mira") == (
            "Cannot do that: /swap changes this channel and needs the manage permission"
        )
        assert await answer_to(fake, app, ADMIN, "remove wren") == "Wren left."
        assert await answer_to(fake, app, ADMIN, "swap bram wren") == "Bram left; Wren joined."
        assert await app.store.get_cast(ROOM) == ["mira", "wren"]


async def test_rate_limits_retries_and_echoes_give_exactly_one_reply(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Aye.", max_hops=0) as app:
        fake.fail_next("chat.postMessage", times=1, retry_after=1)
        event, event_id = await fake.say(ANN, "Bram, any fish today?")
        await until(lambda: bool(fake.posted))
        await app.wait_idle()
        status, _ = await fake.send_event(event, event_id=event_id, retry_num=1)
        assert status == 200
        await fake.say(ANN, "Mira, and you?")
        await until(lambda: len(fake.posted) == 2)
        await app.wait_idle()
        assert [(p.username, p.text) for p in fake.posted] == [("Bram", "Aye."), ("Mira", "Aye.")]


async def test_a_long_reply_is_split_in_order(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, LONG_REPLY, max_hops=0) as app:
        await fake.say(ANN, "Mira, tell me everything.")
        await until(lambda: len(fake.posted) >= 3)
        await app.wait_idle()
        texts = [p.text for p in fake.posted]
        assert all(len(text) <= 3000 for text in texts)
        assert " ".join(texts) == LONG_REPLY


async def test_characters_answering_each_other_stop_at_the_hop_limit(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, ping_pong, max_hops=2) as app:
        await fake.say(ANN, "Mira, what happened at the lighthouse?")
        await until(lambda: len(fake.posted) == 3)
        await app.wait_idle()
        assert [p.username for p in fake.posted] == ["Mira", "Bram", "Mira"]


async def test_socket_mode_receives_events_and_commands_over_a_websocket(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Aye.", app_token="xapp-test", max_hops=0) as app:
        await asyncio.wait_for(fake.connected.wait(), 30)
        await fake.say(ANN, "Bram, any fish?")
        await until(lambda: bool(fake.posted))
        assert await fake.command(ADMIN, "add wren") == 200
        await until(lambda: bool(fake.responses))
        await app.wait_idle()
        assert [(p.username, p.text) for p in fake.posted] == [("Bram", "Aye.")]
        assert fake.responses[-1]["text"] == "Joined: Wren"
        assert await app.store.get_cast(ROOM) == ["mira", "bram", "wren"]
        await until(lambda: len(fake.acks) >= 3)


async def test_members_of_the_admin_user_group_may_change_the_cast(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    fake.group_members.add(ANN)
    async with running(fake, tmp_path, pack_dir, "Hello.", admin_user_group="S0GM") as app:
        assert await fake.command("U0BEA", "add wren") == 200
        await until(lambda: len(fake.responses) == 1)
        assert await fake.command(ANN, "add wren") == 200
        await until(lambda: len(fake.responses) == 2)
        await app.wait_idle()
        assert [r["text"] for r in fake.responses] == [
            "Cannot do that: /add changes this channel and needs the manage permission",
            "Joined: Wren",
        ]


async def test_the_policy_subcommand_switches_turn_taking(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Evening.", max_hops=0) as app:
        assert await answer_to(fake, app, ANN, "policy round-robin") == (
            "Cannot do that: /policy changes this channel and needs the manage permission"
        )
        assert (await answer_to(fake, app, ADMIN, "policy round-robin")).startswith(
            "Turn-taking here is now round-robin"
        )
        for count, line in enumerate(("Evening all.", "Cold out there.", "Any news?"), 1):
            await fake.say(ANN, line)
            await until(lambda n=count: len(fake.posted) >= n)
            await app.wait_idle()
        assert [p.username for p in fake.posted] == ["Mira", "Bram", "Mira"]
        assert await answer_to(fake, app, ANN, "policy") == (
            "Turn-taking here: round-robin "
            "(choose from scoring, likelihood, model, round-robin, manual)."
        )
