"""A scripted loopback OpenAI-compatible server for the backend tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.openai_server import OpenAIServer


@pytest.fixture
async def server() -> AsyncIterator[OpenAIServer]:
    """A running server with an empty script."""
    async with OpenAIServer() as running:
        yield running
