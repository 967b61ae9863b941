"""Two botkit processes on one Telegram bot and one Postgres store: Telegram serves one
poller of a bot at a time, so only the process holding the bot's lease polls; both send,
every message is answered once, and the other polls once the poller stops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from botkit.adapters.telegram import TelegramAdapter

from botkit.app import App
from botkit.config import parse_config
from botkit.testing import InstantBackend
from tests.support.apps import until
from tests.support.telegram_server import GROUP_ID, SHARED_TOKEN, FakeTelegram, Member, Sent

ANN = Member(7001, "Ann")
OTHER_GROUP = GROUP_ID - 1


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.close()


@asynccontextmanager
async def process(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path, store_url: str, name: str
) -> AsyncIterator[App]:
    """One botkit 'process': an App of its own with the Telegram adapter, built from the
    config as ``botkit run`` builds it, on the shared store."""
    config = parse_config(
        {
            "data_dir": str(tmp_path / name),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira"], "max_hops": 0},
            "memory": {"enabled": False},
            "store": {"url": store_url, "lease_seconds": 2},
            "adapters": {
                "telegram": {"token": SHARED_TOKEN, "base_url": fake.base_url, "poll_timeout": 1}
            },
        }
    )
    backend = InstantBackend(f"Mira here, from {name}.")
    async with App(config, backends={"instant": backend}) as app:
        assert isinstance(app.adapters["telegram"], TelegramAdapter)
        yield app


def answers(fake: FakeTelegram) -> list[Sent]:
    return [s for s in fake.sent if s.parse_mode == "HTML"]


async def test_one_process_polls_both_answer_and_the_other_takes_over(
    fake: FakeTelegram, tmp_path: Path, pack_dir: Path, postgres_url: str
) -> None:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(
            process(fake, tmp_path, pack_dir, postgres_url, "first")
        )
        await until(lambda: fake.polls > 0)
        second = await stack.enter_async_context(
            process(fake, tmp_path, pack_dir, postgres_url, "second")
        )
        for n in range(6):
            chat = GROUP_ID if n % 2 else OTHER_GROUP
            fake.push_message(chat, ANN, f"Mira, question {n}?")
        await until(lambda: len(answers(fake)) == 6)
        await first.wait_idle()
        await second.wait_idle()
        assert fake.conflicts == 0
        assert sorted(s.chat_id for s in answers(fake)) == [OTHER_GROUP] * 3 + [GROUP_ID] * 3
        # The second process polled nothing, yet it may answer a chat whose lease it took.
        polls = fake.polls
        await first.aclose()
        fake.push_message(GROUP_ID, ANN, "Mira, still there?")
        await until(lambda: len(answers(fake)) == 7, timeout=60)
        assert fake.polls > polls
        assert "second" in answers(fake)[-1].text
        assert fake.conflicts == 0
