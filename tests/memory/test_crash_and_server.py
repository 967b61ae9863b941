"""Pending memory writes survive a kill; a Chroma server on loopback works like the embedded one."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from botkit.events import Author, ChannelKey
from botkit.memory.records import Scope

from .conftest import MemoryApp, said

ROOM = ChannelKey("test", "guild-1", "tavern")
ANN = Author("u-ann", "Ann")

CHILD = """
import asyncio, os, signal, sys
from botkit.app import App
from botkit.config import parse_config
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.testing import InstantBackend, RecordingAdapter

class StuckEmbedder:
    name = "all-minilm-l6-v2"

    async def embed(self, texts):
        await asyncio.Event().wait()

    async def aclose(self):
        pass

async def main():
    config = parse_config({{"data_dir": {data!r}, "packs": [{pack!r}],
                           "conversation": {{"cast": ["mira", "bram"], "max_hops": 0}},
                           "scheduler": {{"policy": "manual"}}}})
    adapter = RecordingAdapter("test")
    async with App(config, backends={{"instant": InstantBackend()}}, adapters={{"test": adapter}},
                   embedder=StuckEmbedder()) as app:
        for n, text in enumerate({texts!r}):
            await adapter.push(MessageEvent(
                event_id=f"ev-{{n}}", channel=ChannelKey("test", "guild-1", "tavern"),
                author=Author("u-ann", "Ann"), text=text, message_id=f"msg-{{n}}"))
        await app.wait_idle()
        while await app.memory.ledger.backlog() != {count}:
            await asyncio.sleep(0.05)
        print("pending", await app.memory.ledger.backlog(), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""

TEXTS = [
    "The lighthouse lamp was lit by a stranger on Tuesday.",
    "My brother Edvin sails the Grey Heron to Saltmarsh every spring.",
    "Nobody has paid the ferryman since the flood.",
]


async def test_turns_pending_at_a_kill_are_indexed_at_the_next_start(
    tmp_path: Path, pack_dir: Path, memory_app: MemoryApp
) -> None:
    data = tmp_path / "data"
    child = CHILD.format(data=str(data), pack=str(pack_dir), texts=TEXTS, count=len(TEXTS))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(child),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == -signal.SIGKILL, stderr.decode()
    assert stdout.decode().split() == ["pending", str(len(TEXTS))]

    async with memory_app() as (app, _adapter):
        memory = app.memory
        assert memory is not None
        await memory.flush()
        assert await memory.ledger.backlog() == 0
        scope = Scope("test", "guild-1", ROOM, "mira")
        assert len(await memory.vectors.ids(scope)) == len(TEXTS)
        found = await memory.recall(
            "who sails to Saltmarsh?", scope, now=datetime.now(UTC), limit=1
        )
        assert [r.memory.text for r in found] == [TEXTS[1]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def chroma_server(tmp_path: Path) -> tuple[str, int]:
    chroma = shutil.which("chroma", path=os.path.dirname(sys.executable))
    assert chroma, "the chroma command comes with the chromadb package"
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        chroma,
        "run",
        "--path",
        str(tmp_path / "chroma-server"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        break
    else:
        process.kill()
        pytest.fail("chroma run did not start listening")
    yield "127.0.0.1", port
    process.terminate()
    await process.wait()


async def test_memory_on_a_chroma_server(
    memory_app: MemoryApp, chroma_server: tuple[str, int], tmp_path: Path
) -> None:
    host, port = chroma_server
    settings = {"chroma": {"host": host, "port": port}}
    here, there = ROOM, ChannelKey("test", "guild-2", "tavern")
    async with memory_app(memory=settings) as (app, adapter):
        await adapter.push(said("The smuggler's boat is called the Black Gull.", here, ANN))
        await adapter.push(said("The smuggler's boat is called the White Swan.", there, ANN))
        await app.wait_idle()
        assert app.memory is not None
        await app.memory.flush()
    assert not (tmp_path / "data" / "chroma").exists()

    async with memory_app(memory=settings) as (app, adapter):
        memory = app.memory
        assert memory is not None
        now = datetime.now(UTC)
        for channel, boat in ((here, "Black Gull"), (there, "White Swan")):
            scope = Scope(channel.platform, channel.server, channel, "bram")
            assert len(await memory.vectors.ids(scope)) == 1
            found = await memory.recall("what is the smuggler's boat called?", scope, now=now)
            assert [boat in r.memory.text for r in found] == [True]
        await adapter.push(said("Bram, what was that boat called?", here, ANN))
        await app.wait_idle()
    assert [r.identity.name for r in adapter.replies] == ["Bram"]
