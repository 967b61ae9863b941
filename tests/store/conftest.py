"""A fresh store of each kind (the ``database`` fixture): an SQLite file under the test's
temporary directory, and a database of its own on the test run's Postgres server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from botkit.store import Store


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    """An open, migrated store, closed after the test."""
    async with await Store.open(database) as opened:
        yield opened
