"""Runs botkit again and again on one data folder, SIGKILLing each run at a chosen point.

Used by tests/core/test_crash_recovery.py: ``python kill_restart.py SETUP.json``. Every run
is a fork of this process (botkit is imported once), starts an App on the real store,
router and conversation with a scripted backend and a platform that logs every post to a
file, redelivers the whole script of messages one by one (as a platform redelivers what
it never saw acknowledged), and dies at its kill point: during a reply's generation,
right after an incoming message is committed, or right after a reply is recorded. The
last run is not killed. The log (JSON lines) says what was posted, where each run was
killed, and, once each run had recovered what the last one left, which messages had been
accepted by then. The exit statuses of the runs are printed as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botkit.app import App
from botkit.backends.base import ChatRequest
from botkit.config import parse_config
from botkit.events import Author, ChannelKey, Identity, MessageEvent
from botkit.store import EventStatus
from botkit.testing import InstantBackend, RecordingAdapter
from botkit.tokens import default_token_counter

ROOM = ChannelKey("test", "guild-1", "tavern")
ANN = Author("u-ann", "Ann")
LINES = {
    "Mira:": "The tide turns at dusk.",
    "Bram:": "The nets are mended.",
    "Wren:": "Mira, what say you?",
}
KILL_KINDS = {"generate": 4, "reply": 4, "incoming": 2}
"""Where a run may be killed, and at most which occurrence in the run."""


@dataclass(frozen=True)
class Kill:
    """Where a run dies: at the ``count``-th occurrence of ``kind`` in that run."""

    kind: str
    count: int


def script(messages: int) -> list[MessageEvent]:
    """The messages every run delivers: each speaks to Mira, Bram and Wren."""
    return [
        MessageEvent(
            event_id=f"delivery-{n}",
            channel=ROOM,
            author=ANN,
            text=f"Mira, Bram and Wren: question {n} about the tide?",
            message_id=f"msg-{n}",
        )
        for n in range(1, messages + 1)
    ]


class Platform(RecordingAdapter):
    """A platform whose message ids are unique across runs, logging each post as it lands."""

    def __init__(self, log: Path, run: int) -> None:
        super().__init__("test")
        self._log = log
        self._run = run

    def write(self, **entry: Any) -> None:
        """Append one line to the log, at once (it outlives the process being killed)."""
        with self._log.open("a") as file:
            file.write(json.dumps({"run": self._run, **entry}) + "\n")

    async def post_reply(
        self, *, channel: ChannelKey, identity: Identity, text: str, reply_to: str | None = None
    ) -> str | None:
        """Post the reply under an id of this run and log it."""
        self._ids += 1
        message_id = f"run{self._run}-{self._ids}"
        self.write(
            post=message_id, speaker=identity.character_id, reply_to=reply_to, text=text.strip()
        )
        return message_id


class Countdown:
    """Kills the process at the planned occurrence, logging where."""

    def __init__(self, kill: Kill | None, platform: Platform) -> None:
        self._kill = kill
        self._platform = platform
        self._seen: dict[str, int] = {}

    def passed(self, kind: str, **where: Any) -> None:
        """One more occurrence of ``kind``; die if it is the planned one."""
        self._seen[kind] = self._seen.get(kind, 0) + 1
        if self._kill is not None and self._kill == Kill(kind, self._seen[kind]):
            self._platform.write(kill=kind, **where)
            os.kill(os.getpid(), signal.SIGKILL)


def backend(countdown: Countdown) -> InstantBackend:
    """The scripted cast: Mira and Bram answer, Wren hands the turn back to Mira."""

    class Scripted(InstantBackend):
        async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
            countdown.passed("generate", speaker=request.prefix.rstrip(":"))
            async for fragment in super().stream(request):
                yield fragment

    return Scripted(lambda request: LINES[request.prefix])


async def one_run(setup: dict[str, Any], run: int, kill: Kill | None) -> None:
    """Start, recover, log what was accepted, then deliver the script until killed."""
    config = parse_config(
        {
            "data_dir": setup["data"],
            "packs": [setup["pack"]],
            "conversation": {"cast": ["mira", "bram", "wren"], "max_hops": 1},
            "memory": {"enabled": False},
            "store": setup["store"],
        }
    )
    platform = Platform(Path(setup["log"]), run)
    countdown = Countdown(kill, platform)
    async with App(
        config, backends={"scripted": backend(countdown)}, adapters={"test": platform}
    ) as app:
        store = app.store
        record_incoming, record_reply = store.record_incoming, store.record_reply

        async def incoming(event: MessageEvent) -> EventStatus:
            status = await record_incoming(event)
            if status is EventStatus.NEW:
                countdown.passed("incoming", message=event.message_id)
            return status

        async def reply(**kwargs: Any) -> None:
            await record_reply(**kwargs)
            countdown.passed("reply", speaker=kwargs["character_id"], reply_to=kwargs["reply_to"])

        store.record_incoming = incoming  # type: ignore[method-assign]
        store.record_reply = reply  # type: ignore[method-assign]
        # On a shared store the killed run's channel lease must run out before this run
        # takes the channel and what waits in it.
        while await store.unfinished_messages():
            await app.wait_idle()
            await asyncio.sleep(0.05)
        accepted = await store.fetch(
            "SELECT message_id FROM turns WHERE is_character = 0 ORDER BY seq"
        )
        platform.write(recovered=[row[0] for row in accepted])
        for event in script(setup["messages"]):
            await platform.push(event)
            await app.wait_idle()
        platform.write(finished=True)


def main(setup_file: str) -> None:
    """Run ``kills`` killed runs and one last run; print their exit statuses."""
    setup = json.loads(Path(setup_file).read_text())
    default_token_counter()
    rng = random.Random(setup["seed"])
    kinds = sorted(KILL_KINDS)
    plans: list[Kill | None] = []
    for _ in range(setup["kills"]):
        kind = rng.choice(kinds)
        plans.append(Kill(kind, rng.randint(1, KILL_KINDS[kind])))
    plans.append(None)
    statuses = []
    for run, kill in enumerate(plans):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                asyncio.run(one_run(setup, run, kill))
            except BaseException as error:
                sys.stderr.write(f"run {run}: {type(error).__name__}: {error}\n")
                code = 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        statuses.append(
            {
                "kill": None if kill is None else [kill.kind, kill.count],
                "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            }
        )
    sys.stdout.write(json.dumps(statuses) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
