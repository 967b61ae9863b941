"""Slack replies carry metadata naming the character and the message answered, so that
find_reply can find a reply after the fact (real slack-sdk against the fake Slack)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from botkit.adapters.slack import SlackAdapter

from botkit.adapter import PostedReply, ReplyLookup
from botkit.app import App
from botkit.events import ChannelKey, Identity
from tests.support.apps import LONG_REPLY, running_app, until
from tests.support.slack_server import CHANNEL_ID, SIGNING_SECRET, TEAM_ID, FakeSlack, Posted

ROOM = ChannelKey("slack", TEAM_ID, CHANNEL_ID)
ANN = "U0ANN"
THREAD_TS = "1699999999.000001"
THREAD = ChannelKey("slack", TEAM_ID, CHANNEL_ID, THREAD_TS)
BRAM = Identity("bram", "Bram")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack()
    await server.start()
    yield server
    await server.close()


@asynccontextmanager
async def running(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path, script: Any
) -> AsyncIterator[tuple[App, SlackAdapter]]:
    """An App answering through a SlackAdapter on the fake (one reply a message)."""
    adapter = SlackAdapter(
        bot_token="xoxb-test", signing_secret=SIGNING_SECRET, port=0, base_url=fake.api_url
    )
    async with running_app(adapter, tmp_path, pack_dir, script, max_hops=0) as app:
        fake.app_url = adapter.url
        yield app, adapter


async def answered(fake: FakeSlack, app: App, text: str, **extra: Any) -> tuple[str, str]:
    """Ann says ``text``; returns her message's ts and the ts of the reply posted to it."""
    before = len(fake.posted)
    event, _ = await fake.say(ANN, text, **extra)
    await until(lambda: len(fake.posted) > before)
    await app.wait_idle()
    return str(event["ts"]), fake.posted[-1].ts


def test_the_slack_adapter_is_a_reply_lookup() -> None:
    adapter = SlackAdapter(bot_token="xoxb-test", signing_secret=SIGNING_SECRET, port=0)
    assert isinstance(adapter, ReplyLookup)


async def test_a_reply_carries_metadata_and_is_found_in_the_channel(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Come in, love.") as (app, adapter):
        asked, reply = await answered(fake, app, "Mira, is there a room free tonight?")
        post = fake.posted[-1]
        assert post.metadata == {
            "event_type": "botkit_reply",
            "event_payload": {"reply_to": asked, "character": "mira"},
        }
        found = await adapter.find_reply(channel=ROOM, reply_to=asked, character_id="mira")
        assert found == PostedReply(reply, "Come in, love.")
        assert await app.store.character_of_message(ROOM, reply) == "mira"

        # Another character, or another message, has no reply there.
        assert await adapter.find_reply(channel=ROOM, reply_to=asked, character_id="bram") is None
        later, _ = await answered(fake, app, "Mira, and breakfast?")
        assert await adapter.find_reply(channel=ROOM, reply_to=later, character_id="bram") is None
        unknown = "1700000000.999999"
        assert await adapter.find_reply(channel=ROOM, reply_to=unknown, character_id="mira") is None
        # Each message finds its own reply, not the other's.
        again = await adapter.find_reply(channel=ROOM, reply_to=later, character_id="mira")
        assert again == PostedReply(fake.posted[-1].ts, "Come in, love.")
        assert await adapter.find_reply(channel=ROOM, reply_to=asked, character_id="mira") == found


async def test_a_reply_in_a_thread_is_found_in_that_thread_only(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Aye.") as (app, adapter):
        asked, reply = await answered(fake, app, "Bram, any fish?", thread_ts=THREAD_TS)
        post = fake.posted[-1]
        assert post.thread_ts == THREAD_TS
        assert post.metadata == {
            "event_type": "botkit_reply",
            "event_payload": {"reply_to": asked, "character": "bram"},
        }
        found = await adapter.find_reply(channel=THREAD, reply_to=asked, character_id="bram")
        assert found == PostedReply(reply, "Aye.")
        assert await adapter.find_reply(channel=THREAD, reply_to=asked, character_id="mira") is None
        other_thread = ChannelKey("slack", TEAM_ID, CHANNEL_ID, "1699999998.000001")
        assert (
            await adapter.find_reply(channel=other_thread, reply_to=asked, character_id="bram")
            is None
        )


async def test_replies_posted_directly_are_told_apart_by_character_and_message(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Unused.") as (_app, adapter):
        first, second = fake.new_ts(), fake.new_ts()
        mira = Identity("mira", "Mira", avatar="https://example.invalid/mira.png")
        mira_ts = await adapter.post_reply(channel=ROOM, identity=mira, text="Hm.", reply_to=first)
        bram_ts = await adapter.post_reply(channel=ROOM, identity=BRAM, text="Aye.", reply_to=first)
        other = await adapter.post_reply(channel=ROOM, identity=BRAM, text="No.", reply_to=second)
        assert (fake.posted[0].username, fake.posted[0].icon_url) == ("Mira", mira.avatar)
        find = adapter.find_reply
        assert await find(channel=ROOM, reply_to=first, character_id="mira") == PostedReply(
            str(mira_ts), "Hm."
        )
        assert await find(channel=ROOM, reply_to=first, character_id="bram") == PostedReply(
            str(bram_ts), "Aye."
        )
        assert await find(channel=ROOM, reply_to=second, character_id="bram") == PostedReply(
            str(other), "No."
        )
        assert await find(channel=ROOM, reply_to=second, character_id="mira") is None
        assert await find(channel=ROOM, reply_to=first, character_id="wren") is None


async def test_a_reply_split_in_pieces_is_found_whole_with_its_last_id(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, LONG_REPLY) as (app, adapter):
        event, _ = await fake.say(ANN, "Mira, tell me everything.")
        await until(lambda: len(fake.posted) >= 3)
        await app.wait_idle()
        pieces = list(fake.posted)
        found = await adapter.find_reply(channel=ROOM, reply_to=event["ts"], character_id="mira")
        assert found is not None
        assert found.message_id == pieces[-1].ts
        assert found.text.split() == LONG_REPLY.split()


async def test_a_reply_is_found_behind_pages_of_later_messages(
    fake: FakeSlack, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Yes.") as (app, adapter):
        asked, reply = await answered(fake, app, "Mira, one question?")
        # 450 later messages: Slack gives the newest first, 200 a page.
        fake.posted += [
            Posted(CHANNEL_ID, f"chatter {n}", None, None, None, fake.new_ts()) for n in range(450)
        ]
        found = await adapter.find_reply(channel=ROOM, reply_to=asked, character_id="mira")
        assert found == PostedReply(reply, "Yes.")
