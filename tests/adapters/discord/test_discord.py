"""Discord end to end: real discord.py against a fake gateway and REST API on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import discord
import pytest
import yarl
from botkit.adapters.discord import DiscordAdapter
from botkit.adapters.discord.translate import webhook_name

from botkit.app import App, ConfigurationError
from botkit.backends.base import ChatRequest
from botkit.config import parse_config
from botkit.events import ChannelKey
from botkit.plugin import menu_entries
from botkit.testing import InstantBackend
from tests.support.apps import LONG_REPLY, ping_pong, running_app, until
from tests.support.discord_server import (
    CHANNEL_ID,
    GUILD_ID,
    MANAGE_GUILD,
    THREAD_ID,
    FakeDiscord,
    Posted,
    user,
)

ROOM = ChannelKey("discord", GUILD_ID, CHANNEL_ID)
ANN = user("100000000000000001", "Ann")
OWNER_PERMISSIONS = MANAGE_GUILD | (1 << 11)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    monkeypatch.setattr(discord.http.Route, "BASE", server.rest_url)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url)
    )
    yield server
    await server.close()


@asynccontextmanager
async def running(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path, script: Any, **conversation: Any
) -> AsyncIterator[App]:
    adapter = DiscordAdapter(token="test-token", character_names=lambda: ["Mira", "Bram", "Wren"])
    async with running_app(adapter, tmp_path, pack_dir, script, **conversation) as app:
        yield app


def webhook_posts(fake: FakeDiscord) -> list[Posted]:
    return [p for p in fake.posted if p.kind == "webhook"]


def followups(fake: FakeDiscord) -> list[str]:
    return [p.content for p in fake.posted if p.kind == "followup"]


async def test_a_message_gets_a_reply_as_the_character_and_is_stored(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Come in out of the fog, love.") as app:
        assert {c["name"] for c in fake.commands} == set(menu_entries(app.command_list))
        assert {"cast", "character", "memory", "roll", "filter"} <= {
            c["name"] for c in fake.commands
        }
        await fake.say(ANN, "Mira, is there a room free tonight?")
        await until(lambda: bool(webhook_posts(fake)))
        await app.wait_idle()
        post = webhook_posts(fake)[0]
        assert (post.username, post.content) == ("Mira", "Come in out of the fog, love.")
        assert post.avatar_url == "https://example.invalid/mira.png"
        turns = await app.store.recent_turns(ROOM, 10)
        assert [(t.speaker_name, t.is_character) for t in turns] == [("Ann", False), ("Mira", True)]
        assert turns[1].message_id == post.message_id
        assert len(webhook_posts(fake)) == 1


def option(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "type": 3, "value": value}


async def answer_to(
    fake: FakeDiscord,
    app: App,
    command: str,
    subcommand: str,
    *options: dict[str, Any],
    permissions: int,
) -> str:
    """Run ``/command subcommand`` as Ann and return the answer posted to her."""
    before = len(followups(fake))
    await fake.command(ANN, command, list(options), permissions=permissions, subcommand=subcommand)
    await until(lambda: len(followups(fake)) > before)
    await app.wait_idle()
    return followups(fake)[-1]


async def test_cast_commands_need_manage_server(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async def run(subcommand: str, *options: dict[str, Any], permissions: int) -> str:
        return await answer_to(
            fake, app, "character", subcommand, *options, permissions=permissions
        )

    async with running(fake, tmp_path, pack_dir, "Hello.") as app:
        refused = await run("add", option("characters", "wren"), permissions=0)
        assert refused == (
            "Cannot do that: /character add changes this channel and needs the manage permission"
        )
        assert await app.store.get_cast(ROOM) is None

        manage = OWNER_PERMISSIONS
        assert await run("add", option("characters", "wren"), permissions=manage) == "Joined: Wren"
        assert (
            await run(
                "swap",
                option("leaving", "bram"),
                option("joining", "innkeeper"),
                permissions=manage,
            )
            == "Cannot do that: Mira is already here"
        )
        assert (
            await run("swap", option("leaving", "wren"), option("joining", "Bram"), permissions=0)
            == "Cannot do that: /character swap changes this channel and needs the manage"
            " permission"
        )
        assert await run("remove", option("character", "bram"), permissions=manage) == "Bram left."
        assert (
            await run(
                "swap", option("leaving", "wren"), option("joining", "Bram"), permissions=manage
            )
            == "Wren left; Bram joined."
        )
        assert await app.store.get_cast(ROOM) == ["mira", "bram"]


async def test_a_rate_limit_is_waited_out_and_the_reply_arrives_once(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Aye.", max_hops=0) as app:
        fake.rate_limit("/webhooks/", times=2, retry_after=0.05)
        await fake.say(ANN, "Bram, any fish today?")
        await until(lambda: bool(webhook_posts(fake)))
        await app.wait_idle()
        assert [(p.username, p.content) for p in webhook_posts(fake)] == [("Bram", "Aye.")]


async def test_a_resume_that_replays_a_message_gets_no_second_reply(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Aye.", max_hops=0) as app:
        await fake.say(ANN, "Bram, any fish today?")
        await until(lambda: bool(webhook_posts(fake)))
        await app.wait_idle()
        fake.replay_overlap = 10
        await fake.drop_connection()
        await until(lambda: fake.resumes == 1)
        await fake.say(ANN, "Mira, and you?")
        await until(lambda: len(webhook_posts(fake)) == 2)
        await app.wait_idle()
        assert [p.username for p in webhook_posts(fake)] == ["Bram", "Mira"]
        assert fake.identifies == 1


async def test_a_long_reply_is_split_in_order_within_2000_characters(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, LONG_REPLY, max_hops=0) as app:
        await fake.say(ANN, "Mira, tell me everything.")
        await until(lambda: len(webhook_posts(fake)) >= 2)
        await app.wait_idle()
        pieces = [p.content for p in webhook_posts(fake)]
        assert all(len(piece) <= 2000 for piece in pieces)
        assert " ".join(pieces) == LONG_REPLY


async def test_characters_answering_each_other_stop_at_the_hop_limit(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, ping_pong, max_hops=2) as app:
        await fake.say(ANN, "Mira, what happened at the lighthouse?")
        await until(lambda: len(webhook_posts(fake)) == 3)
        await app.wait_idle()
        await asyncio.sleep(0.2)
        assert [p.username for p in webhook_posts(fake)] == ["Mira", "Bram", "Mira"]


async def test_threads_use_the_parent_webhook_and_deleted_webhooks_are_recreated(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Aye.", max_hops=0) as app:
        await fake.say(ANN, "Bram, any fish?", channel_id=THREAD_ID)
        await until(lambda: bool(webhook_posts(fake)))
        await app.wait_idle()
        first = webhook_posts(fake)[0]
        assert (first.channel_id, first.thread_id) == (CHANNEL_ID, THREAD_ID)
        thread = ChannelKey("discord", GUILD_ID, CHANNEL_ID, THREAD_ID)
        assert [t.speaker_name for t in await app.store.recent_turns(thread, 10)] == ["Ann", "Bram"]
        fake.webhooks.clear()
        await fake.say(ANN, "Mira, hello?")
        await until(lambda: len(webhook_posts(fake)) == 2)
        await app.wait_idle()
        assert [p.username for p in webhook_posts(fake)] == ["Bram", "Mira"]
        assert len(fake.webhooks) == 1


async def test_other_bots_do_not_trigger_characters(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Aye.", max_hops=0) as app:
        await fake.say(user("200000000000000002", "OtherBot", bot=True), "Mira, Bram, hello!")
        await fake.say(ANN, "Mira, hello?")
        await until(lambda: bool(webhook_posts(fake)))
        await app.wait_idle()
        assert [p.username for p in webhook_posts(fake)] == ["Mira"]
        assert [t.speaker_name for t in await app.store.recent_turns(ROOM, 10)] == ["Ann", "Mira"]


def test_names_discord_refuses_are_adjusted_visibly() -> None:
    assert webhook_name("Clyde the Bard") == "C\u200alyde the Bard"
    assert webhook_name("Discordia") == "D\u200aiscordia"
    assert webhook_name("M") == "M\u17b5"
    assert len(webhook_name("x" * 100)) == 80


async def test_a_fixed_shard_range_is_passed_to_the_client() -> None:
    adapter = DiscordAdapter(token="secret-token-123", shard_ids=[2, 3], shard_count=4)
    assert adapter._client.shard_ids == [2, 3]
    assert adapter._client.shard_count == 4
    assert "secret-token-123" not in repr(adapter)


async def test_a_refused_token_is_one_clear_error(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    fake.refuse_token = True
    with pytest.raises(
        ConfigurationError, match=r"^adapters.discord could not start: LoginFailure"
    ):
        async with running(fake, tmp_path, pack_dir, "Hello."):
            pass


class TricklingBackend(InstantBackend):
    """Produces its reply a word at a time, like a real model."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        async for fragment in super().stream(request):
            await asyncio.sleep(0.01)
            yield fragment


async def test_streaming_posts_early_and_edits_the_message_as_it_grows(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    reply = " ".join(f"Word {n}." for n in range(60))
    adapter = DiscordAdapter(token="test-token", stream_interval=0.05)
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
        }
    )
    backends = {"trickle": TricklingBackend(reply)}
    async with App(config, backends=backends, adapters={"discord": adapter}) as app:
        await fake.say(ANN, "Mira, count for me.")
        await until(lambda: any(p.kind == "edit" and p.content == reply for p in fake.posted))
        await app.wait_idle()
        posts = webhook_posts(fake)
        edits = [p for p in fake.posted if p.kind == "edit"]
        assert len(posts) == 1
        assert reply.startswith(posts[0].content)
        assert len(edits) >= 2
        assert all(e.message_id == posts[0].message_id for e in edits)
        contents = [posts[0].content, *(e.content for e in edits)]
        assert all(b.startswith(a) for a, b in pairwise(contents))
        turns = await app.store.recent_turns(ROOM, 10)
        assert (turns[-1].text, turns[-1].message_id) == (reply, posts[0].message_id)


async def test_memory_commands_forget_a_member_and_guard_recall(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async def run(subcommand: str, *options: dict[str, Any], permissions: int) -> str:
        return await answer_to(fake, app, "memory", subcommand, *options, permissions=permissions)

    async with running(fake, tmp_path, pack_dir, "Noted.") as app:
        await fake.say(ANN, "Mira, my horse is called Thistle.")
        await until(lambda: bool(webhook_posts(fake)))
        await app.wait_idle()
        assert app.memory is not None
        await app.memory.flush()
        refused = await run(
            "recall", option("character", "Mira"), option("topic", "horse"), permissions=0
        )
        assert refused.startswith("Cannot do that: /memory recall changes this channel")
        shown = await run(
            "recall",
            option("character", "Mira"),
            option("topic", "horse name"),
            permissions=OWNER_PERMISSIONS,
        )
        assert "Ann: Mira, my horse is called Thistle." in shown
        forgot = await run("forget-me", permissions=0)
        assert forgot == "Forgot your messages on this server: 1 message and 1 memory."
        turns = await app.store.recent_turns(ROOM, 10)
        assert [t.speaker_name for t in turns] == ["Mira"]


async def test_pack_commands_list_for_anyone_and_install_only_for_allowed_users(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Hello.") as app:
        assert await answer_to(fake, app, "pack", "list", permissions=0) == (
            "No packs are installed; /pack install <source>[@ref] adds one."
        )
        refused = await answer_to(
            fake,
            app,
            "pack",
            "install",
            option("source", str(tmp_path)),
            permissions=OWNER_PERMISSIONS,
        )
        assert refused.startswith("Cannot do that: /pack install is only for the bot's owner")
        assert not (tmp_path / "data" / "packs.lock").exists()


async def test_policy_and_mute_commands_switch_turn_taking(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async def policy(*options: dict[str, Any], permissions: int) -> str:
        before = len(followups(fake))
        await fake.command(ANN, "policy", list(options), permissions=permissions)
        await until(lambda: len(followups(fake)) > before)
        await app.wait_idle()
        return followups(fake)[-1]

    async with running(fake, tmp_path, pack_dir, "Evening.", max_hops=0) as app:
        registered = next(c for c in fake.commands if c["name"] == "policy")
        [choice_option] = registered["options"]
        assert [c["value"] for c in choice_option["choices"]] == [
            "scoring",
            "likelihood",
            "model",
            "round-robin",
            "manual",
        ]
        assert (
            "default_member_permissions" not in registered
            or not registered["default_member_permissions"]
        )
        assert await policy(permissions=0) == (
            "Turn-taking here: scoring "
            "(choose from scoring, likelihood, model, round-robin, manual)."
        )
        assert await policy(option("policy", "manual"), permissions=0) == (
            "Cannot do that: /policy changes this channel and needs the manage permission"
        )
        assert (await policy(option("policy", "manual"), permissions=OWNER_PERMISSIONS)).startswith(
            "Turn-taking here is now manual"
        )
        await fake.say(ANN, "Hello everyone!")
        await app.wait_idle()
        assert webhook_posts(fake) == []
        muted = await answer_to(
            fake,
            app,
            "character",
            "mute",
            option("character", "Mira"),
            permissions=OWNER_PERMISSIONS,
        )
        assert muted == "Mira is muted here and stays silent until /unmute."
        await fake.say(ANN, "Mira, Bram, anyone awake?")
        await until(lambda: bool(webhook_posts(fake)))
        await app.wait_idle()
        assert [p.username for p in webhook_posts(fake)] == ["Bram"]


async def test_command_answers_are_seen_only_by_their_caller(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with running(fake, tmp_path, pack_dir, "Hello.") as app:
        added = await answer_to(
            fake, app, "character", "add", option("characters", "wren"), permissions=0
        )
        assert added.startswith("Cannot do that: /character add")
        await answer_to(fake, app, "pack", "list", permissions=0)
    answers = [p for p in fake.posted if p.kind == "followup"]
    assert len(answers) == 2
    assert all(p.ephemeral for p in answers)
