"""Several botkit processes on one fake Slack and one store: traffic, a kill, and the count.

Used by tests/e2e/test_two_processes.py and bench/cluster.py. Each process is
tests/support/slack_worker.py; the fake Slack spreads the events over their Socket Mode
connections as Slack does. Questions go out in rounds, one per channel a round; one
process may be killed with SIGKILL halfway through a round. Every reply names the
process that wrote it and the question it answers, so the run ends with a tally: which
questions were answered, how often, by whom, and how long the survivors took to answer
in the channels the killed process had held.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from tests.support.slack_server import FakeSlack

__all__ = ["ClusterResult", "run_cluster"]

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("slack_worker.py")
REPLY = re.compile(r"\[(\w+)\] answers (\d+)")
MEMBER = "U0ANN"


class TimedSlack(FakeSlack):
    """The fake Slack, noting when each reply was posted."""

    def __init__(self) -> None:
        super().__init__()
        self.post_times: list[float] = []

    async def _post(self, params: dict[str, Any]) -> dict[str, Any]:
        self.post_times.append(time.monotonic())
        return await super()._post(params)


@dataclass
class ClusterResult:
    """What a run sent, what came back, and what the store kept."""

    processes: int
    channels: int
    questions: int
    seconds: float
    """From the first question sent to the last answer posted."""
    answers: Counter[int] = field(default_factory=Counter)
    """How many replies each question got."""
    writers: dict[int, list[str]] = field(default_factory=dict)
    """Which processes answered each question, in order."""
    killed: str | None = None
    shared_channels: int = 0
    """Channels answered by more than one process before the kill (or in the whole run)."""
    takeover_seconds: float | None = None
    """After the kill: the longest wait, over the killed process's channels, for their
    first answer by a survivor."""
    unrecorded_posts: set[str] = field(default_factory=set)
    """Replies the platform shows that the store does not hold (posted, then killed,
    and not found by the process that took the message over)."""

    @property
    def lost(self) -> list[int]:
        """Questions nobody answered."""
        return [n for n in range(self.questions) if not self.answers[n]]

    @property
    def duplicates(self) -> int:
        """Replies beyond the first, over every question."""
        return sum(max(0, count - 1) for count in self.answers.values())

    @property
    def replies_per_second(self) -> float:
        """Answered questions per second of the run."""
        return sum(1 for n in range(self.questions) if self.answers[n]) / self.seconds


async def _start_worker(setup: dict[str, Any], folder: Path) -> asyncio.subprocess.Process:
    path = folder / f"{setup['name']}.json"
    path.write_text(json.dumps(setup))
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        str(path),
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=(folder / f"{setup['name']}.log").open("w"),
    )


async def _until(condition: Any, timeout: float, what: str) -> None:
    """Wait for ``condition()`` (a bound on waiting, not a timing assertion)."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s") from None


def _recorded_replies(store_url: str) -> set[str]:
    """The platform ids of every reply the store holds."""
    with psycopg.connect(store_url) as connection:
        rows = connection.execute(
            "SELECT message_id FROM turns WHERE is_character = 1 AND message_id IS NOT NULL"
        ).fetchall()
    return {str(row[0]) for row in rows}


async def run_cluster(
    *,
    store_url: str,
    folder: Path,
    processes: int = 2,
    channels: int = 200,
    rounds: int = 3,
    lease_seconds: int = 3,
    kill_in_round: int | None = None,
    wait_seconds: float = 120.0,
) -> ClusterResult:
    """Run ``processes`` botkit processes on one fake Slack and the store at ``store_url``;
    ask one question a round in each of ``channels`` channels; with ``kill_in_round``,
    SIGKILL the first process halfway through that round. Returns the tally."""
    slack = TimedSlack()
    await slack.start()
    workers: dict[str, asyncio.subprocess.Process] = {}
    names = [chr(ord("a") + n) for n in range(processes)]
    try:
        for name in names:
            setup = {
                "name": name,
                "data": str(folder / f"data-{name}"),
                "store": store_url,
                "lease_seconds": lease_seconds,
                "api_url": slack.api_url,
            }
            workers[name] = await _start_worker(setup, folder)
        for name, worker in workers.items():
            assert worker.stdout is not None
            line = await asyncio.wait_for(worker.stdout.readline(), wait_seconds)
            if line.strip() != b"ready":
                log = (folder / f"{name}.log").read_text()
                raise RuntimeError(f"process {name} did not start: {log[-2000:]}")
        await _until(lambda: len(slack.sockets) == processes, wait_seconds, "every connection")
        result = await _drive(slack, workers, channels, rounds, kill_in_round, wait_seconds)
    finally:
        for worker in workers.values():
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers.values():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.wait(), 30)
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        await slack.close()
    result.processes = processes
    recorded = await asyncio.to_thread(_recorded_replies, store_url)
    result.unrecorded_posts = {
        posted.ts
        for posted in slack.posted
        if REPLY.fullmatch(posted.text.strip()) and posted.ts not in recorded
    }
    return result


async def _drive(
    slack: TimedSlack,
    workers: dict[str, asyncio.subprocess.Process],
    channels: int,
    rounds: int,
    kill_in_round: int | None,
    wait_seconds: float,
) -> ClusterResult:
    """Send the rounds of questions (killing on the way) and wait for every answer."""
    questions = channels * rounds
    channel_of = {n: f"C{n % channels:04d}" for n in range(questions)}
    killed: str | None = None
    kill_time = 0.0
    started = time.monotonic()
    for n in range(questions):
        if kill_in_round is not None and n == kill_in_round * channels + channels // 2:
            killed = next(iter(workers))
            workers[killed].send_signal(signal.SIGKILL)
            await workers[killed].wait()
            kill_time = time.monotonic()
        event = {
            "type": "message",
            "channel": channel_of[n],
            "user": MEMBER,
            "text": f"Mira, question {n}?",
            "ts": slack.new_ts(),
            "channel_type": "channel",
        }
        await slack.send_event(event)
        if n % channels == channels - 1:
            # A round is out: let it be answered before the next (never past the bound).
            with contextlib.suppress(TimeoutError):
                await _until(partial(_all_of, slack, n + 1), wait_seconds / (rounds + 1), "a round")

    with contextlib.suppress(TimeoutError):
        await _until(partial(_all_of, slack, questions), wait_seconds, "every answer")
    result = ClusterResult(processes=0, channels=channels, questions=questions, seconds=0.0)
    last = started
    held: defaultdict[str, set[str]] = defaultdict(set)
    first_after_kill: dict[str, float] = {}
    for posted, when in zip(slack.posted, slack.post_times, strict=True):
        found = REPLY.fullmatch(posted.text.strip())
        if found is None:
            continue
        writer, question = found.group(1), int(found.group(2))
        result.answers[question] += 1
        result.writers.setdefault(question, []).append(writer)
        last = max(last, when)
        if killed is None or when < kill_time:
            held[writer].add(posted.channel)
        elif killed is not None and writer != killed and posted.channel in held[killed]:
            first_after_kill.setdefault(posted.channel, when - kill_time)
    result.seconds = last - started
    result.killed = killed
    result.shared_channels = sum(
        1 for channel in set().union(*held.values()) if sum(channel in h for h in held.values()) > 1
    )
    if killed is not None and held[killed]:
        waits = [first_after_kill.get(channel) for channel in held[killed]]
        if all(wait is not None for wait in waits):
            result.takeover_seconds = max(wait for wait in waits if wait is not None)
    return result


def _all_of(slack: TimedSlack, questions: int) -> bool:
    """Whether ``questions`` distinct questions have an answer on the platform."""
    answered = {m.group(2) for p in slack.posted if (m := REPLY.fullmatch(p.text.strip()))}
    return len(answered) >= questions
