"""A process killed between a message and its reply loses nothing and never replies twice."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from pathlib import Path

from botkit.app import App
from botkit.config import parse_config
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.testing import InstantBackend, RecordingAdapter

ROOM = ChannelKey("test", "guild-1", "tavern")
EVENT = MessageEvent(
    event_id="delivery-1",
    channel=ROOM,
    author=Author("u-ann", "Ann"),
    text="Mira, is the lighthouse lit tonight?",
    message_id="msg-1",
)

CHILD = """
import asyncio, os, signal, sys
from botkit.app import App
from botkit.config import parse_config
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.testing import InstantBackend, RecordingAdapter

class DyingBackend(InstantBackend):
    async def stream(self, request):
        os.kill(os.getpid(), signal.SIGKILL)
        yield ""

async def main():
    config = parse_config({{"data_dir": {data!r}, "packs": [{pack!r}],
                           "conversation": {{"cast": ["mira", "bram"], "max_hops": 0}}}})
    adapter = RecordingAdapter("test")
    backends = {{"dying": DyingBackend()}}
    async with App(config, backends=backends, adapters={{"test": adapter}}) as app:
        event = MessageEvent(event_id="delivery-1", channel=ChannelKey("test", "guild-1", "tavern"),
                             author=Author("u-ann", "Ann"), text={text!r}, message_id="msg-1")
        await adapter.push(event)
        await app.wait_idle()

asyncio.run(main())
"""


def config(data: Path, pack: Path) -> object:
    return parse_config(
        {
            "data_dir": str(data),
            "packs": [str(pack)],
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
        }
    )


async def test_a_killed_process_resumes_the_message_and_replies_once(
    tmp_path: Path, pack_dir: Path
) -> None:
    data = tmp_path / "data"
    child = CHILD.format(data=str(data), pack=str(pack_dir), text=EVENT.text)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", textwrap.dedent(child), stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode == -signal.SIGKILL, stderr.decode()

    adapter = RecordingAdapter("test")
    backend = InstantBackend("Lit and burning, love.")
    async with App(
        config(data, pack_dir),  # type: ignore[arg-type]
        backends={"instant": backend},
        adapters={"test": adapter},
    ) as app:
        await app.wait_idle()
        assert [(r.identity.name, r.reply_to) for r in adapter.replies] == [("Mira", "msg-1")]
        await adapter.push(EVENT)
        await app.wait_idle()
        assert len(adapter.replies) == 1
        turns = await app.store.recent_turns(ROOM, 10)
        assert [(t.speaker_name, t.text) for t in turns] == [
            ("Ann", EVENT.text),
            ("Mira", "Lit and burning, love."),
        ]
        assert await app.store.unfinished_messages() == []
