"""The lexical index: neighbouring turns, named speakers, forgetting, the schema upgrade,
and fusion that is never worse than its parts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from botkit.events import Author
from botkit.memory.ledger import MemoryLedger
from botkit.memory.ranking import fuse
from botkit.memory.records import Scope
from botkit.store import EventStatus, Store
from botkit.store import sqlite as store_module
from botkit.store.migrations import MIGRATIONS
from tests.store.helpers import ROOM, message

EVERYONE = Scope(ROOM.platform, ROOM.server, ROOM)


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    async with await Store.open(database) as opened:
        yield opened


LINES = [
    ("Ann", "Where did you leave the lantern with the green glass?"),
    ("Bram", "Under the third bench, by the door."),
    ("Tom", "The ferry leaves at dawn tomorrow."),
    ("Bram", "Then I must sleep early."),
]


async def remembered(store: Store, lines: list[tuple[str, str]] = LINES) -> MemoryLedger:
    """A ledger holding ``lines`` said in ROOM, in order, as remembered turns."""
    for n, (name, text) in enumerate(lines):
        author = Author(f"u-{name.lower()}", name)
        status = await store.record_incoming(message(n, author=author, text=text))
        assert status is EventStatus.NEW
    ledger = MemoryLedger(store)
    pending = await ledger.pending_turns(100)
    await ledger.remember_turns([(turn, frozenset(), 0.0) for turn in pending])
    return ledger


async def texts_of(ledger: MemoryLedger, ids: list[int]) -> list[str]:
    found = {m.id: m.text for m in await ledger.get(ids, EVERYONE)}
    return [found[i] for i in ids]


async def test_a_turn_is_found_by_the_words_of_the_turn_it_answers(store: Store) -> None:
    ledger = await remembered(store)
    own_words_only = await ledger.search_text("green lantern", EVERYONE, 5)
    assert await texts_of(ledger, own_words_only) == [LINES[0][1]]
    with_neighbours = await ledger.search_text("green lantern", EVERYONE, 5, neighbours=0.5)
    assert await texts_of(ledger, with_neighbours) == [LINES[0][1], LINES[1][1]]


async def test_a_turn_is_found_by_the_words_of_the_turn_that_answered_it(store: Store) -> None:
    ledger = await remembered(store)
    found = await ledger.search_text("sleep early", EVERYONE, 5, neighbours=0.5)
    assert await texts_of(ledger, found) == [LINES[3][1], LINES[2][1]]


async def test_a_named_speakers_turns_come_before_better_matches_of_others(
    store: Store,
) -> None:
    lines = [
        ("Tom", "The ferry leaves at dawn."),
        ("Tom", "Tom here, checking the barn."),
        ("Ann", "The goats ate the goats' hay, the goats."),
        ("Tom", "The goats got out of the barn again last night."),
    ]
    ledger = await remembered(store, lines)
    query = "What did Tom say about the goats?"

    async def speakers(named_speaker: float) -> list[str]:
        ids = await ledger.search_text(query, EVERYONE, 5, named_speaker=named_speaker)
        names = {m.id: m.speaker_name for m in await ledger.get(ids, EVERYONE)}
        return [names[i] for i in ids]

    # By words alone Ann's goat-filled line beats one of Tom's (BM25 on SQLite ranks it
    # second, Postgres's ts_rank third); naming Tom puts all his turns first.
    assert (await speakers(0.0)).index("Ann") < 3
    if store.dialect == "sqlite":
        assert await speakers(0.0) == ["Tom", "Ann", "Tom", "Tom"]
    assert await speakers(3.0) == ["Tom", "Tom", "Tom", "Ann"]


async def test_forgetting_a_turn_takes_its_words_out_of_its_neighbours(store: Store) -> None:
    ledger = await remembered(store)
    assert await ledger.search_text("ferry dawn", EVERYONE, 5, neighbours=0.5)
    await ledger.forget_turns("t.speaker_id = ?", ("u-tom",))
    assert await ledger.search_text("ferry dawn", EVERYONE, 5, neighbours=0.5) == []
    # The turns around the forgotten one now neighbour each other.
    found = await ledger.search_text("bench door", EVERYONE, 5, neighbours=0.5)
    assert await texts_of(ledger, found) == [LINES[1][1], LINES[3][1], LINES[0][1]]


async def test_an_older_database_gains_neighbours_when_it_is_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS[:2])
    async with await Store.open(path) as old:
        for n, (name, text) in enumerate(LINES):
            await old.record_incoming(message(n, author=Author(f"u-{name}", name), text=text))
        async with old.write() as db:
            await db.execute(
                "INSERT INTO memories (turn_seq, kind, channel, platform, server, speaker_id,"
                " speaker_name, witnesses, text, time, importance) SELECT seq, 'turn', channel,"
                " platform, server, speaker_id, speaker_name, ' ', text, time, 0 FROM turns"
            )
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS)
    async with await Store.open(path) as upgraded:
        assert await upgraded.schema_version() == len(MIGRATIONS)
        rows = await upgraded.fetch("SELECT before_text, after_text FROM memories ORDER BY id")
        assert [tuple(row) for row in rows] == [
            ("", LINES[1][1]),
            (LINES[0][1], LINES[2][1]),
            (LINES[1][1], LINES[3][1]),
            (LINES[2][1], ""),
        ]
        ledger = MemoryLedger(upgraded)
        found = await ledger.search_text("ferry dawn", EVERYONE, 5, neighbours=0.5)
        texts = await texts_of(ledger, found)
        assert texts[0] == LINES[2][1]
        assert sorted(texts[1:]) == sorted([LINES[1][1], LINES[3][1]])


def test_fusion_finds_what_either_ranking_found_at_its_top() -> None:
    # Each ranking has one of the two pieces of evidence first and the other fourth.
    lexical = [1, 2, 3, 9, 6]
    dense = [9, 4, 5, 1, 7]
    evidence = {1, 9}
    fused = fuse([(3.0, lexical), (1.0, dense)], 10)
    top = sorted(fused, key=lambda memory_id: -fused[memory_id])
    for k in (1, 2, 3, 4, 5):
        found = len(evidence & set(top[:k]))
        assert found >= len(evidence & set(lexical[:k]))
        assert found >= len(evidence & set(dense[:k]))
    assert top[:2] == [1, 9]
