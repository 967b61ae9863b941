"""Observations: when a session has ended, what they link to, how recall follows the links,
and what forgetting a turn does to them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from botkit.backends.base import ChatRequest
from botkit.events import Author, ChannelKey
from botkit.memory.ledger import MemoryLedger, PendingTurn
from botkit.memory.notes import NoteTaker, find_sources, split_sessions
from botkit.memory.ranking import follow_sources
from botkit.memory.records import Memory, Recollection, Scope
from botkit.memory.settings import MemorySettings
from botkit.store import Store
from botkit.testing import InstantBackend
from tests.store.helpers import ROOM, START, message

EVERYONE = Scope(ROOM.platform, ROOM.server, ROOM)
QUIET = timedelta(minutes=30)
ANN = Author("u-ann", "Ann")
TOM = Author("u-tom", "Tom")


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    async with await Store.open(database) as opened:
        yield opened


async def said(store: Store, lines: list[tuple[Author, str, datetime]]) -> MemoryLedger:
    """A ledger holding ``lines`` said in ROOM, in order, as remembered turns."""
    for n, (author, text, time) in enumerate(lines):
        await store.record_incoming(message(n, author=author, text=text, time=time))
    ledger = MemoryLedger(store)
    pending = await ledger.pending_turns(100)
    await ledger.remember_turns([(turn, frozenset({"mira"}), 0.5) for turn in pending])
    return ledger


async def cast(_channel: ChannelKey) -> list[str]:
    return ["mira"]


def chronicler(answer: str) -> InstantBackend:
    """A backend that answers every request for observations with ``answer``."""

    def script(request: ChatRequest) -> str:
        assert "chronicle" in request.messages[0].content
        return answer

    return InstantBackend(script)


def turn(seq: int, text: str, speaker: str = "Ann") -> PendingTurn:
    return PendingTurn(seq, ROOM, f"u-{speaker.lower()}", speaker, False, text, START)


def memory(memory_id: int, kind: str = "turn") -> Memory:
    return Memory(
        memory_id, kind, ROOM, "u-ann", "Ann", f"text {memory_id}", START, 0.5, frozenset()
    )


def recalled(memory_id: int, score: float, kind: str = "turn") -> Recollection:
    return Recollection(memory(memory_id, kind), score, score, 0.0, 0.0)


def test_sessions_end_at_a_quiet_gap_and_after_every_n_turns() -> None:
    minutes = [0, 1, 2, 40, 41, 42, 43, 44, 45, 46, 200]
    times = [START + timedelta(minutes=m) for m in minutes]
    assert split_sessions(times, quiet=QUIET, every=5) == [3, 5, 2, 1]
    assert split_sessions(times, quiet=QUIET, every=100) == [3, 7, 1]
    assert split_sessions([], quiet=QUIET, every=5) == []


def test_an_observation_links_the_turns_that_say_it_best_first() -> None:
    turns = [
        turn(1, "Hello there."),
        turn(2, "He repairs nets at the harbour.", "Tom"),
        turn(3, "Perrin is my cousin, he repairs nets."),
        turn(4, "Perrin lives down at Gullwick."),
        turn(5, "Perrin is nice."),
        turn(6, "Tom and Ann went home."),
    ]
    note = "Ann's cousin Perrin repairs nets at Gullwick."
    assert find_sources(note, turns) == [3, 2, 4]
    assert find_sources("Tom talked with Ann about it.", turns) == []


def test_an_observation_is_followed_by_its_sources_in_the_places_after_it() -> None:
    found = [recalled(1, 0.9), recalled(10, 0.8, "note"), recalled(2, 0.7), recalled(3, 0.6)]
    shown = {i: memory(i) for i in (1, 3, 4)}
    followed = follow_sources(found, {10: [3, 1, 5, 4]}, shown, limit=4)
    assert [(r.memory.id, r.via) for r in followed] == [(1, None), (10, None), (3, 10), (4, 10)]
    assert followed[2].score == 0.8
    everything = follow_sources(found, {10: [3, 4]}, shown, limit=10)
    assert [r.memory.id for r in everything] == [1, 10, 3, 4, 2]
    assert follow_sources(found, {}, shown, limit=2) == found[:2]


async def test_a_session_is_observed_once_it_has_fallen_quiet(store: Store) -> None:
    first = [
        (ANN, "Perrin is my cousin.", START),
        (TOM, "He fixes nets.", START + timedelta(minutes=1)),
        (ANN, "Down at Gullwick.", START + timedelta(minutes=2)),
    ]
    later = START + timedelta(hours=3)
    second = [(TOM, "The ferry leaves at dawn.", later), (ANN, "I will be there.", later)]
    ledger = await said(store, first + second)
    now = [later + timedelta(minutes=5)]
    backend = chronicler(
        "- Ann's cousin Perrin repairs nets at Gullwick.\n- The moon is made of ice."
    )
    taker = NoteTaker(backend, quiet=QUIET, every=40, clock=lambda: now[0])
    taker.saw([ROOM])
    assert await taker.take(ledger, cast)
    assert backend.requests[0].messages[1].content.splitlines() == [
        "Ann: Perrin is my cousin.",
        "Tom: He fixes nets.",
        "Ann: Down at Gullwick.",
    ]
    assert not await taker.take(ledger, cast)
    assert len(backend.requests) == 1
    assert taker.seconds_until_due() == pytest.approx(25 * 60)

    turn_ids = await ledger.turn_memories(range(1, 6))
    notes = [m for m in await ledger.get(range(1, 20), EVERYONE) if m.kind == "note"]
    assert [n.text for n in notes] == ["Ann's cousin Perrin repairs nets at Gullwick."]
    assert notes[0].witnesses == {"mira"} and notes[0].time == first[-1][2]
    linked = await ledger.sources_of([notes[0].id])
    assert linked == {notes[0].id: [turn_ids[1], turn_ids[2], turn_ids[3]]}

    now[0] = later + timedelta(minutes=31)
    assert taker.seconds_until_due() == 0.0
    assert await taker.take(ledger, cast)
    assert backend.requests[1].messages[1].content.splitlines() == [
        "Tom: The ferry leaves at dawn.",
        "Ann: I will be there.",
    ]
    assert taker.sessions_observed == 2


async def test_a_session_that_never_falls_quiet_is_observed_every_n_turns(store: Store) -> None:
    lines = [(ANN, f"Lantern number {n} is lit.", START + timedelta(minutes=n)) for n in range(7)]
    ledger = await said(store, lines)
    backend = chronicler("Ann lit lantern number three.")
    taker = NoteTaker(backend, quiet=QUIET, every=3, clock=lambda: START + timedelta(minutes=7))
    taker.saw([ROOM])
    while await taker.take(ledger, cast):
        pass
    transcripts = [r.messages[1].content.splitlines() for r in backend.requests]
    assert [len(t) for t in transcripts] == [3, 3]
    assert transcripts[1][0] == "Ann: Lantern number 3 is lit."


async def test_forgetting_a_turn_forgets_the_observations_drawn_from_it(store: Store) -> None:
    lines = [
        (ANN, "Perrin is my cousin.", START),
        (TOM, "The ferry leaves at dawn.", START + timedelta(minutes=1)),
    ]
    ledger = await said(store, lines)
    turn_ids = await ledger.turn_memories([1, 2])
    common = {
        "channel": ROOM,
        "speaker_id": "botkit:notes",
        "speaker_name": "notes",
        "time": START,
        "importance": 0.7,
        "witnesses": ["mira"],
    }
    from_ann = await ledger.add_note(
        text="Ann's cousin is Perrin.", sources=[turn_ids[1]], **common
    )
    from_tom = await ledger.add_note(
        text="Tom's ferry leaves at dawn.", sources=[turn_ids[2]], **common
    )
    turns, ids = await ledger.forget_turns("t.speaker_id = ?", (ANN.id,))
    assert turns == 1 and sorted(ids) == sorted([turn_ids[1], from_ann])
    kept = await ledger.get([from_ann, from_tom, turn_ids[2]], EVERYONE)
    assert sorted(m.id for m in kept) == sorted([from_tom, turn_ids[2]])
    assert await ledger.sources_of([from_ann, from_tom]) == {from_tom: [turn_ids[2]]}


def test_observations_are_on_by_default_only_for_a_server_backend() -> None:
    assert not MemorySettings().observes(embedded=True)
    assert MemorySettings().observes(embedded=False)
    assert MemorySettings(observations="on").observes(embedded=True)
    assert not MemorySettings(observations="off").observes(embedded=False)
