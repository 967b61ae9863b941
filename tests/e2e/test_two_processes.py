"""Two botkit processes share one Postgres store and one Slack app: every message is
answered once, by the process holding its channel; when one process is killed halfway
through a round of 200 questions, the other takes its channels once their leases run
out, and nothing is lost or answered twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.support.slack_cluster import run_cluster


async def test_two_processes_answer_every_message_once_and_survive_a_kill(
    postgres_url: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    result = await run_cluster(
        store_url=postgres_url,
        folder=tmp_path,
        processes=2,
        channels=200,
        rounds=3,
        lease_seconds=3,
        kill_in_round=1,
    )
    record_property("replies_per_second", result.replies_per_second)
    record_property("takeover_seconds", result.takeover_seconds)
    record_property("duplicates", result.duplicates)
    assert result.killed == "a"
    assert result.lost == []
    # Before the kill both processes answered, each in channels of its own.
    writers = {writer for question in range(200) for writer in result.writers[question]}
    assert writers == {"a", "b"}
    assert result.shared_channels == 0
    # Every channel the killed process held was answered by the survivor afterwards.
    assert result.takeover_seconds is not None
    # Replies the killed process posted but never recorded were found, not repeated.
    assert result.duplicates == 0
    assert result.unrecorded_posts == set()
    later = range(400, 600)
    assert all(result.answers[question] == 1 for question in later)
    assert all(result.writers[question] == ["b"] for question in later)
