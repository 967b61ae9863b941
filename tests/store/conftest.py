"""A fresh store in a file under the test's temporary directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from botkit.store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's database lives (created by the first open)."""
    return tmp_path / "data" / "botkit.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    """An open, migrated store, closed after the test."""
    async with await Store.open(db_path) as opened:
        yield opened
