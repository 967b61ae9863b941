"""The App loads installed packs, and `/pack` installs them from chat for allowed users."""

from __future__ import annotations

import asyncio
import logging
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from botkit.plugins.packs import may_change_packs

from botkit.app import App
from botkit.events import Author, ChannelKey, CommandEvent, MessageEvent, Permission
from botkit.pack_install import PackInstaller
from botkit.pack_install.git import Git, Resolved
from botkit.testing import RecordingAdapter
from tests.packs.conftest import Repo, pack_files, running, write_files
from tests.support.apps import until

ROOM = ChannelKey("test", "guild-1", "tavern")
OTHER_ROOM = ChannelKey("test", "guild-1", "harbour")
ANN = Author("u-ann", "Ann")
KEEPER = Author("u-keeper", "Keeper")
_ids = count()


def command(author: Author, name: str, *args: str, channel: ChannelKey = ROOM) -> CommandEvent:
    return CommandEvent(
        event_id=f"cmd-{next(_ids)}",
        channel=channel,
        author=author,
        name=name,
        args=args,
        permissions=Permission.MANAGE,
    )


async def answer(app: App, adapter: RecordingAdapter, event: CommandEvent) -> str:
    before = len(adapter.notices)
    await adapter.push(event)
    await app.wait_idle()
    assert len(adapter.notices) == before + 1
    return adapter.notices[-1][1]


async def test_installed_packs_load_after_the_configured_ones(
    cove_repo: Repo, data_dir: Path, pack_dir: Path
) -> None:
    await PackInstaller(data_dir).install(f"{cove_repo.url}@v1.0.0")
    async with running(data_dir, pack_dir) as (app, _):
        assert [c.id for c in app.characters.all()] == ["mira", "bram", "wren", "tess", "orin"]


async def test_an_installed_pack_that_fails_to_load_is_skipped_in_one_line(
    cove_repo: Repo, data_dir: Path, pack_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await PackInstaller(data_dir).install(f"{cove_repo.url}@v1.0.0")
    (data_dir / "packs" / "cove" / "orin.yaml").write_text("id: orin\n")
    with caplog.at_level(logging.WARNING, logger="botkit.app"):
        async with running(data_dir, pack_dir) as (app, _):
            assert [c.id for c in app.characters.all()] == ["mira", "bram", "wren"]
    [line] = [r.getMessage() for r in caplog.records if "installed pack" in r.getMessage()]
    assert line.startswith("installed pack cove skipped: ")
    assert "orin.yaml:1" in line and "\n" not in line


async def test_pack_changes_need_the_allowlist_and_reload_the_characters(
    cove_repo: Repo, data_dir: Path, pack_dir: Path
) -> None:
    async with running(data_dir, pack_dir, ["test:u-keeper"], ["test:u-keeper"]) as (
        app,
        adapter,
    ):
        install = command(ANN, "pack", "install", f"{cove_repo.url}@v1.0.0")
        assert await answer(app, adapter, install) == (
            "Cannot do that: /pack install is only for the bot's owner and the users listed "
            "in packs.installers in the config"
        )
        assert not (data_dir / "packs.lock").exists()
        assert await answer(app, adapter, command(ANN, "pack")) == (
            "No packs are installed; /pack install <source>[@ref] adds one."
        )
        assert await answer(app, adapter, command(KEEPER, "pack", "install")) == (
            "Cannot do that: usage: /pack install <source>"
        )

        first = cove_repo.rev("v1.0.0")
        keeper_install = command(KEEPER, "pack", "install", f"{cove_repo.url}@v1.0.0")
        assert await answer(app, adapter, keeper_install) == (
            f"installed cove 1.0.0 (commit {first[:7]})"
        )
        assert await answer(app, adapter, command(ANN, "pack", "list")) == (
            f"cove 1.0.0 from {cove_repo.url} (tag v1.0.0, commit {first[:7]})"
        )
        assert await answer(app, adapter, command(ANN, "add", "tess")) == "Joined: Tess"
        await adapter.push(
            MessageEvent(event_id="m-1", channel=ROOM, author=ANN, text="Tess?", message_id="m-1")
        )
        await app.wait_idle()
        assert adapter.replies[-1].identity.name == "Tess"

        refused = await answer(app, adapter, command(ANN, "pack", "update", "cove@v1.1.0"))
        assert refused.startswith("Cannot do that: /pack update is only for")
        updated = await answer(app, adapter, command(KEEPER, "pack", "update", "cove@v1.1.0"))
        assert updated.startswith("updated cove 1.0.0 → 1.1.0")
        tess = app.characters.get("tess")
        assert tess is not None and tess.greeting == "The tide waits."

        assert await answer(app, adapter, command(KEEPER, "pack", "remove", "cove")) == (
            "removed cove 1.1.0"
        )
        assert app.characters.get("tess") is None
        assert (
            await answer(app, adapter, command(ANN, "cast")) == "Here: Mira (mira) — the innkeeper"
        )


async def test_a_refused_pack_is_reported_line_by_line_in_chat(
    tmp_path: Path, data_dir: Path, pack_dir: Path
) -> None:
    folder = tmp_path / "bad"
    write_files(folder, {**pack_files(), "setup.py": "import os\n"})
    async with running(data_dir, pack_dir, ["test:*"], ["test:u-ann"]) as (app, adapter):
        reply = await answer(app, adapter, command(ANN, "pack", "install", str(folder)))
    assert reply.splitlines() == [
        "Cannot do that: /pack install refused:",
        "setup.py: '.py' files are not allowed; a pack holds only data "
        "(YAML, JSON, Markdown, text, images, README/LICENSE), never programs",
    ]


async def test_an_install_does_not_hold_up_other_channels(
    cove_repo: Repo, data_dir: Path, pack_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    checkout = Git.checkout

    async def held_checkout(self: Git, url: str, wanted: Resolved, dest: Path) -> str:
        started.set()
        await release.wait()
        return await checkout(self, url, wanted, dest)

    monkeypatch.setattr(Git, "checkout", held_checkout)
    async with running(data_dir, pack_dir, ["test:u-keeper"], ["test:u-keeper"]) as (
        app,
        adapter,
    ):
        await adapter.push(command(KEEPER, "pack", "install", cove_repo.url))
        await started.wait()
        await adapter.push(
            MessageEvent(
                event_id="m-2", channel=OTHER_ROOM, author=ANN, text="Mira?", message_id="m-2"
            )
        )
        await until(lambda: bool(adapter.replies))
        assert adapter.replies[0].channel == OTHER_ROOM
        assert adapter.notices == []
        release.set()
        await app.wait_idle()
        assert adapter.notices[-1][1].startswith("installed cove 1.1.0")


@pytest.mark.parametrize(
    ("platform", "author", "permissions", "installers", "allowed"),
    [
        ("discord", "1234", Permission.MANAGE, {"discord:1234"}, True),
        ("discord", "99", Permission.MANAGE, {"discord:1234", "telegram:99"}, False),
        ("telegram", "99", Permission.NONE, {"telegram:*"}, True),
        ("console", "console-user", Permission.MANAGE | Permission.OWNER, set(), True),
    ],
)
def test_who_may_change_packs(
    platform: str, author: str, permissions: Permission, installers: set[str], allowed: Any
) -> None:
    event = CommandEvent(
        event_id="e",
        channel=ChannelKey(platform, "s", "c"),
        author=Author(author, "Someone"),
        name="pack",
        permissions=permissions,
    )
    assert may_change_packs(event, frozenset(installers)) is allowed
