"""A process killed between a message and its reply loses nothing and never replies twice."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

from botkit.app import App
from botkit.backends.base import ChatRequest
from botkit.config import parse_config
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.store import Store
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
        if request.prefix in {dying!r}:
            os.kill(os.getpid(), signal.SIGKILL)
        async for fragment in super().stream(request):
            yield fragment

async def main():
    config = parse_config({{"data_dir": {data!r}, "packs": [{pack!r}],
                           "conversation": {{"cast": ["mira", "bram"], "max_hops": 0}}}})
    adapter = RecordingAdapter("test")
    backends = {{"dying": DyingBackend("Lit and burning, love.")}}
    async with App(config, backends=backends, adapters={{"test": adapter}}) as app:
        event = MessageEvent(event_id="delivery-1", channel=ChannelKey("test", "guild-1", "tavern"),
                             author=Author("u-ann", "Ann"), text={text!r}, message_id="msg-1")
        await adapter.push(event)
        await app.wait_idle()

asyncio.run(main())
"""


KILL_RESTART = Path(__file__).parents[1] / "support" / "kill_restart.py"


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
    child = CHILD.format(data=str(data), pack=str(pack_dir), text=EVENT.text, dying=["Mira:"])
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


async def test_a_process_killed_between_two_recorded_replies_resumes_with_the_next_speaker(
    tmp_path: Path, pack_dir: Path
) -> None:
    data = tmp_path / "data"
    text = "Mira and Bram, is the lighthouse lit tonight?"
    child = CHILD.format(data=str(data), pack=str(pack_dir), text=text, dying=["Bram:"])
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", textwrap.dedent(child), stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode == -signal.SIGKILL, stderr.decode()

    def by_speaker(request: ChatRequest) -> str:
        return {"Mira:": "Lit and burning, love.", "Bram:": "Aye, I saw it."}[request.prefix]

    adapter = RecordingAdapter("test")
    async with App(
        config(data, pack_dir),  # type: ignore[arg-type]
        backends={"instant": InstantBackend(by_speaker)},
        adapters={"test": adapter},
    ) as app:
        await app.wait_idle()
        assert [(r.identity.name, r.reply_to) for r in adapter.replies] == [("Bram", "msg-1")]
        turns = await app.store.recent_turns(ROOM, 10)
        assert [(t.speaker_name, t.text) for t in turns] == [
            ("Ann", text),
            ("Mira", "Lit and burning, love."),
            ("Bram", "Aye, I saw it."),
        ]
        assert await app.store.unfinished_messages() == []


def chains(posts: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """Per message answered, the replies posted for it: (speaker, what the reply answers),
    with a follow-up's answer named by the speaker it answers."""
    speaker_of = {post["post"]: post["speaker"] for post in posts}
    trigger_of: dict[str, str] = {}
    found: dict[str, list[tuple[str, str]]] = {}
    for post in posts:
        answered = post["reply_to"]
        trigger = trigger_of.get(answered, answered)
        trigger_of[post["post"]] = trigger
        found.setdefault(trigger, []).append((post["speaker"], speaker_of.get(answered, "message")))
    return found


EXPECTED_CHAIN = [("mira", "message"), ("bram", "message"), ("wren", "message"), ("mira", "wren")]
"""Every message speaks to Mira, Bram and Wren; Wren hands the turn back to Mira."""
CHAIN_SPEAKERS = [speaker for speaker, _ in EXPECTED_CHAIN]


async def test_twenty_random_kills_answer_every_message_by_every_speaker_once(
    tmp_path: Path, pack_dir: Path, database: str
) -> None:
    kills, messages = 20, 30
    log = tmp_path / "platform.jsonl"
    setup = tmp_path / "setup.json"
    setup.write_text(
        json.dumps(
            {
                "data": str(tmp_path / "data"),
                "pack": str(pack_dir),
                "log": str(log),
                "seed": 13,
                "kills": kills,
                "messages": messages,
                "store": {"url": database if "://" in database else f"sqlite:///{database}"}
                | ({"lease_seconds": 2} if database.startswith("postgresql://") else {}),
            }
        )
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(KILL_RESTART),
        str(setup),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    runs = json.loads(stdout)
    assert [run["signal"] for run in runs] == [signal.SIGKILL] * kills + [None], stderr.decode()
    assert runs[-1]["code"] == 0, stderr.decode()

    entries = [json.loads(line) for line in log.read_text().splitlines()]
    killed = [entry for entry in entries if "kill" in entry]
    assert len(killed) == kills
    assert {entry["kill"] for entry in killed} == {"generate", "incoming", "reply"}
    between_replies = [
        entry
        for entry in killed
        if entry["kill"] == "reply" and str(entry["reply_to"]).startswith("msg-")
    ]
    assert between_replies, "no kill fell between two recorded replies of one message"

    posts = [entry for entry in entries if "post" in entry]
    answers = Counter((post["speaker"], post["reply_to"]) for post in posts)
    assert [key for key, times in answers.items() if times > 1] == []
    restarts = [n for n, entry in enumerate(entries) if "recovered" in entry]
    assert entries[restarts[-1]]["run"] == kills
    for position in restarts:
        answered = chains([entry for entry in entries[:position] if "post" in entry])
        for message in entries[position]["recovered"]:
            assert answered.get(message) == EXPECTED_CHAIN, (entries[position]["run"], message)
    assert entries[-1] == {"run": kills, "finished": True}
    answered = chains(posts)
    assert sorted(answered) == sorted(f"msg-{n}" for n in range(1, messages + 1))
    assert all(chain == EXPECTED_CHAIN for chain in answered.values())

    async with await Store.open(database) as store:
        turns = await store.recent_turns(ROOM, 10 * messages)
        assert await store.unfinished_messages() == []
    assert [t.speaker_id if t.is_character else t.text for t in turns] == [
        turn
        for n in range(1, messages + 1)
        for turn in (f"Mira, Bram and Wren: question {n} about the tide?", *CHAIN_SPEAKERS)
    ]
