"""A small pack and an App wired to an instant backend and a recording adapter."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from botkit.app import App
from botkit.config import parse_config
from botkit.plugin_loader import LoadedPlugin
from botkit.testing import InstantBackend, RecordingAdapter
from tests.support.browser import browser_page  # noqa: F401
from tests.support.postgres import PostgresServer, serve

PACK = {
    "pack.yaml": """
name: harbour
version: 1.0.0
setting: A foggy harbour town.
characters: [mira.yaml, bram.yaml, wren.yaml]
""",
    "mira.yaml": """
id: mira
name: Mira
summary: the innkeeper
avatar: https://example.invalid/mira.png
persona: [Mira runs the Salt Lantern inn and loves gossip.]
talkativeness: 0.8
nicknames: [innkeeper]
greeting: Come in out of the fog!
knowledge:
  - keys: [lighthouse]
    text: The lighthouse keeper vanished a month ago.
""",
    "bram.yaml": """
id: bram
name: Bram
summary: an old fisherman
persona: [Bram is an old fisherman who distrusts strangers and talks of nets and boats.]
talkativeness: 0.4
""",
    "wren.yaml": """
id: wren
name: Wren
summary: a young cartographer
persona: [Wren draws maps of the coast and the caves.]
talkativeness: 0.5
""",
}


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Converted models go to a cache of this test run's own, never the user's."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A real Postgres server shared by the test run (started on first use)."""
    yield from serve(tmp_path_factory.mktemp("postgres"))


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty Postgres database of the test's own."""
    return postgres_server.new_database()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where an SQLite test database lives (created by the first open)."""
    return tmp_path / "data" / "botkit.sqlite3"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, db_path: Path) -> str:
    """Where the test's database is: an SQLite file, then a Postgres URL."""
    if request.param == "sqlite":
        return str(db_path)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def pack_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "pack"
    folder.mkdir()
    for name, text in PACK.items():
        (folder / name).write_text(text.lstrip())
    return folder


AppFactory = Callable[..., Any]


@pytest.fixture
def make_app(tmp_path: Path, pack_dir: Path) -> AppFactory:
    @asynccontextmanager
    async def factory(
        backend: InstantBackend,
        *,
        plugins: Sequence[LoadedPlugin] | None = None,
        **conversation: Any,
    ) -> AsyncIterator[tuple[App, RecordingAdapter]]:
        settings = {"cast": ["mira", "bram"], **conversation}
        config = parse_config(
            {
                "data_dir": str(tmp_path / "data"),
                "packs": [str(pack_dir)],
                "conversation": settings,
                "memory": {"enabled": False},
            }
        )
        adapter = RecordingAdapter("test")
        async with App(
            config, backends={backend.name: backend}, adapters={"test": adapter}, plugins=plugins
        ) as app:
            yield app, adapter

    return factory
