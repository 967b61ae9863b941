"""Discord shard ranges: several botkit processes split one bot's guilds, each running the
shards its config names, against one fake Discord that shards as the real one does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import discord
import pytest
import yarl
from botkit.adapters.discord import DiscordAdapter

from botkit.app import App, ConfigurationError
from botkit.config import ConfigError, parse_config
from botkit.events import ChannelKey
from botkit.testing import InstantBackend
from tests.support.apps import until
from tests.support.discord_server import MANAGE_GUILD, FakeDiscord, Posted, user

ANN = user("100000000000000001", "Ann")
MOMENT = 1_300_000_000_000
"""A snowflake timestamp: the guilds below are created a millisecond apart from it."""
MORE_GUILDS = {str((MOMENT + n) << 22 | 5): str((MOMENT + n) << 22 | 6) for n in range(4)}
"""Guilds besides the fake's first, by id, each with its channel; consecutive timestamps
put them on alternate shards of two."""


def shard_of(guild_id: str, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (int(guild_id) >> 22) % shard_count


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A fake Discord with five guilds, two on shard 0 of 2 and three on shard 1."""
    server = FakeDiscord()
    for guild_id, channel_id in MORE_GUILDS.items():
        server.add_guild(guild_id, channel_id)
    await server.start()
    monkeypatch.setattr(discord.http.Route, "BASE", server.rest_url)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url)
    )
    yield server
    await server.close()


def settings(tmp_path: Path, pack_dir: Path, **discord_options: Any) -> dict[str, Any]:
    """A config whose ``adapters.discord`` section has ``discord_options``."""
    return {
        "data_dir": str(tmp_path / "data"),
        "packs": [str(pack_dir)],
        "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
        "memory": {"enabled": False},
        "adapters": {"discord": {"token": "test-token", **discord_options}},
    }


@asynccontextmanager
async def process(
    tmp_path: Path, pack_dir: Path, name: str, **discord_options: Any
) -> AsyncIterator[App]:
    """One botkit process (its own data folder), its Discord adapter built from the config;
    its characters always answer ``"<name> answers."``."""
    config = parse_config(settings(tmp_path / name, pack_dir, **discord_options))
    async with App(config, backends={"instant": InstantBackend(f"{name} answers.")}) as app:
        yield app


def client(app: App) -> discord.AutoShardedClient:
    """The discord.py client of ``app``'s Discord adapter."""
    adapter = app.adapters["discord"]
    assert isinstance(adapter, DiscordAdapter)
    return adapter._client


def webhook_posts(fake: FakeDiscord) -> list[Posted]:
    """What characters posted, through channel webhooks."""
    return [p for p in fake.posted if p.kind == "webhook"]


def followups(fake: FakeDiscord) -> list[Posted]:
    """The answers to slash commands."""
    return [p for p in fake.posted if p.kind == "followup"]


def rooms(fake: FakeDiscord) -> dict[str, str]:
    """Each guild's first channel, by guild id."""
    return {guild_id: guild.channels[0] for guild_id, guild in fake.guilds.items()}


async def test_two_processes_with_disjoint_shards_each_answer_only_their_guilds(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with (
        process(tmp_path, pack_dir, "first", shard_ids=[0], shard_count=2) as first,
        process(tmp_path, pack_dir, "second", shard_ids="1", shard_count=2) as second,
    ):
        apps = {"first": first, "second": second}
        owner = {guild: ("first", "second")[shard_of(guild, 2)] for guild in rooms(fake)}
        assert sorted(owner.values()) == ["first"] * 2 + ["second"] * 3
        assert sorted((s.shard_id, s.shard_count) for s in fake.sessions) == [(0, 2), (1, 2)]
        for name, app in apps.items():
            assert {str(g.id) for g in client(app).guilds} == {
                guild for guild, owned_by in owner.items() if owned_by == name
            }
        assert set(fake.guild_commands) == set(rooms(fake))

        said = {guild: f"Mira, any news in {guild}?" for guild in owner}
        for guild, channel in rooms(fake).items():
            await fake.say(ANN, said[guild], channel_id=channel)
        await until(lambda: len(webhook_posts(fake)) == len(owner))
        for app in apps.values():
            await app.wait_idle()

        for name, app in apps.items():
            heard = [m.content for m in client(app).cached_messages if m.webhook_id is None]
            assert sorted(heard) == sorted(
                said[guild] for guild, owned_by in owner.items() if owned_by == name
            )
        assert sorted((p.channel_id, p.username, p.content) for p in webhook_posts(fake)) == sorted(
            (channel, "Mira", f"{owner[guild]} answers.") for guild, channel in rooms(fake).items()
        )
        for guild, channel in rooms(fake).items():
            room = ChannelKey("discord", guild, channel)
            for name, app in apps.items():
                turns = await app.store.recent_turns(room, 10)
                expected = [("Ann", False), ("Mira", True)] if owner[guild] == name else []
                assert [(t.speaker_name, t.is_character) for t in turns] == expected, (guild, name)


async def test_a_slash_command_reaches_only_the_process_owning_its_guild(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with (
        process(tmp_path, pack_dir, "first", shard_ids=[0], shard_count=2) as first,
        process(tmp_path, pack_dir, "second", shard_ids=[1], shard_count=2) as second,
    ):
        apps = (first, second)
        for channel in rooms(fake).values():
            await fake.command(
                ANN,
                "character",
                [{"name": "characters", "type": 3, "value": "wren"}],
                permissions=MANAGE_GUILD,
                subcommand="add",
                channel_id=channel,
            )
        await until(lambda: len(followups(fake)) == len(rooms(fake)))
        for app in apps:
            await app.wait_idle()

        answered = followups(fake)
        assert sorted((p.channel_id, p.content) for p in answered) == sorted(
            (channel, "Joined: Wren") for channel in rooms(fake).values()
        )
        for guild, channel in rooms(fake).items():
            room = ChannelKey("discord", guild, channel)
            owning = apps[shard_of(guild, 2)]
            for app in apps:
                cast = await app.store.get_cast(room)
                assert (cast is not None and "wren" in cast) == (app is owning), (guild, cast)


async def test_without_shard_options_one_connection_serves_every_guild(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path
) -> None:
    async with process(tmp_path, pack_dir, "only") as app:
        assert [(s.shard_id, s.shard_count) for s in fake.sessions] == [(0, 1)]
        assert {str(g.id) for g in client(app).guilds} == set(rooms(fake))
        limits = await client(app).fetch_session_start_limits()
        assert (limits.total, limits.remaining, limits.max_concurrency) == (1000, 999, 1)
        for channel in rooms(fake).values():
            await fake.say(ANN, "Mira, hello?", channel_id=channel)
        await until(lambda: len(webhook_posts(fake)) == len(rooms(fake)))
        await app.wait_idle()
        assert sorted(p.channel_id for p in webhook_posts(fake)) == sorted(rooms(fake).values())


@pytest.mark.parametrize(
    ("shard_ids", "shard_count", "expected"),
    [
        ("0-3", 4, [0, 1, 2, 3]),
        ("2", 4, [2]),
        (" 0-1, 5 ", 8, [0, 1, 5]),
        ([3, 1], 4, [1, 3]),
        (1, 2, [1]),
        (None, 3, None),
    ],
)
def test_shard_ids_are_a_list_or_a_range_text(
    shard_ids: Any, shard_count: int, expected: list[int] | None
) -> None:
    adapter = DiscordAdapter(token="test-token", shard_ids=shard_ids, shard_count=shard_count)
    assert adapter._client.shard_ids == expected
    assert adapter._client.shard_count == shard_count


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"shard_ids": [2], "shard_count": 2},
            "shard_ids: shard 2 is not below shard_count 2 (ids run 0..1)",
        ),
        (
            {"shard_ids": "0-3", "shard_count": 2},
            "shard_ids: shard 3 is not below shard_count 2 (ids run 0..1)",
        ),
        ({"shard_ids": [0]}, "shard_ids: needs shard_count, the total number of shards of the bot"),
        (
            {"shard_ids": "one", "shard_count": 2},
            "shard_ids: expected a list of shard ids or a range like '0-3', found 'one'",
        ),
        (
            {"shard_ids": [], "shard_count": 2},
            "shard_ids: expected a list of shard ids or a range like '0-3', found an empty list",
        ),
        (
            {"shard_ids": [0, "1"], "shard_count": 2},
            "shard_ids: expected a list of shard ids or a range like '0-3', found a list",
        ),
        ({"shard_ids": "1-0", "shard_count": 2}, "shard_ids: the range '1-0' runs backwards"),
        ({"shard_ids": [1, 1], "shard_count": 2}, "shard_ids: shard 1 is listed more than once"),
    ],
)
async def test_a_bad_shard_option_is_one_clear_error_naming_it(
    fake: FakeDiscord, tmp_path: Path, pack_dir: Path, options: dict[str, Any], message: str
) -> None:
    config = parse_config(settings(tmp_path, pack_dir, **options))
    with pytest.raises(ConfigurationError) as caught:
        async with App(config, backends={"instant": InstantBackend("Hello.")}):
            pass
    assert str(caught.value) == f"adapters.discord: {message}"
    assert fake.identifies == 0


def test_a_shard_count_below_one_is_reported_with_the_config(
    tmp_path: Path, pack_dir: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(settings(tmp_path, pack_dir, shard_ids=[0], shard_count=0))
    assert caught.value.problems == [
        "adapters.discord.shard_count: expected a whole number of at least 1, found 0"
    ]
