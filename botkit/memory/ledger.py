"""Memory's tables in the store's database: records, their witnesses and full text.

The database is the memory's source of truth: the vector index only ever holds copies of rows
here (keyed by row id), so a lost or rebuilt index is re-filled from these tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botkit.events import ChannelKey
from botkit.memory.holdings import Holdings
from botkit.memory.records import Memory, MemoryKind, Scope
from botkit.stopwords import STOP_WORDS
from botkit.store import Store
from botkit.store.connection import Session
from botkit.store.store import utc_text

__all__ = ["MemoryLedger", "PendingTurn"]

_COLUMNS = (
    "m.id, m.kind, m.channel, m.speaker_id, m.speaker_name, m.text, m.time, m.importance,"
    " m.witnesses, m.turn_seq"
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class PendingTurn:
    """A stored turn that is not in memory yet."""

    seq: int
    channel: ChannelKey
    speaker_id: str
    speaker_name: str
    is_character: bool
    text: str
    time: datetime


def _witness_text(witnesses: Iterable[str]) -> str:
    """Witness ids as ``" mira bram "``, so one id is found with ``instr(' mira ')``."""
    return " " + " ".join(sorted(set(witnesses))) + " "


def _memory(row: Sequence[Any]) -> Memory:
    return Memory(
        id=int(row[0]),
        kind=row[1],
        channel=ChannelKey.parse(row[2]),
        speaker_id=row[3],
        speaker_name=row[4],
        text=row[5],
        time=datetime.fromisoformat(row[6]),
        importance=float(row[7]),
        witnesses=frozenset(row[8].split()),
        turn_seq=row[9],
    )


def _pending(row: Sequence[Any]) -> PendingTurn:
    return PendingTurn(
        row[0],
        ChannelKey.parse(row[1]),
        row[2],
        row[3],
        bool(row[4]),
        row[5],
        datetime.fromisoformat(row[6]),
    )


def _scope_sql(scope: Scope) -> tuple[str, list[Any]]:
    """The WHERE conditions (on alias ``m``) that keep a query inside ``scope``."""
    conditions = ["m.platform = ?", "m.server = ?"]
    parameters: list[Any] = [scope.platform, scope.server]
    if scope.channel is not None:
        conditions.append("m.channel = ?")
        parameters.append(str(scope.channel))
    if scope.character is not None:
        conditions.append("instr(m.witnesses, ?) > 0")
        parameters.append(f" {scope.character} ")
    return " AND ".join(conditions), parameters


_PREVIOUS_TEXT = (
    "SELECT p.text FROM memories p WHERE p.kind = 'turn' AND p.channel = ?"
    " AND p.turn_seq < ? ORDER BY p.turn_seq DESC LIMIT 1"
)
_NEIGHBOURS = (
    "UPDATE memories SET"
    " before_text = coalesce((SELECT p.text FROM memories p WHERE p.kind = 'turn'"
    " AND p.channel = memories.channel AND p.turn_seq < memories.turn_seq"
    " ORDER BY p.turn_seq DESC LIMIT 1), ''),"
    " after_text = coalesce((SELECT n.text FROM memories n WHERE n.kind = 'turn'"
    " AND n.channel = memories.channel AND n.turn_seq > memories.turn_seq"
    " ORDER BY n.turn_seq LIMIT 1), '')"
    " WHERE kind = 'turn' AND channel = ?"
)
_CANDIDATE_FACTOR = 2
_HELD_ELSEWHERE = (
    "SELECT 1 FROM leases l WHERE l.name = {channel} AND l.owner <> ? AND l.expires >= ?"
)
"""A live lease on ``{channel}`` of an owner other than the first parameter's."""
_BY_LENGTH = 1
"""``ts_rank``'s normalisation dividing by 1 + log(words): like BM25, a match in a short
text counts for more."""


def telling_words(text: str) -> list[str]:
    """The words of ``text`` a search looks for, once each (stop words left out unless
    nothing else is left)."""
    words = dict.fromkeys(word.casefold() for word in _WORD.findall(text))
    return [word for word in words if word not in STOP_WORDS] or list(words)


def match_expression(text: str) -> str:
    """An FTS5 query matching any telling word of ``text`` (each word quoted, so none is
    syntax)."""
    return _any_of(telling_words(text))


def _any_of(words: Sequence[str]) -> str:
    """An FTS5 query matching any of ``words``, each quoted."""
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


def _sqlite_search(words: Sequence[str], *, neighbours: float) -> tuple[str, str]:
    """A query for memory ids, speakers and scores (lower is better) matching any of
    ``words``, open for more conditions on alias ``m``; and its FTS5 expression."""
    expression = _any_of(words)
    if neighbours <= 0:
        expression = f"{{speaker_name text}} : ({expression})"
    weights = f"1, 1, {neighbours:g}, {neighbours:g}"
    sql = (
        f"SELECT m.id, m.speaker_name, bm25(memories_text, {weights}) AS score"
        " FROM memories_text JOIN memories m ON m.id = memories_text.rowid"
        " WHERE memories_text MATCH ?"
    )
    return sql, expression


def _postgres_search(words: Sequence[str], *, neighbours: float) -> tuple[str, str]:
    """As :func:`_sqlite_search`, on Postgres's text search (``ts_rank``, English stemming):
    speaker and text weigh 1, the neighbouring turns ``neighbours`` (at most 1); and the
    search text."""
    weight = min(max(neighbours, 0.0), 1.0)
    words_column = "m.words" if weight > 0 else "ts_filter(m.words, '{a}')"
    sql = (
        "SELECT m.id, m.speaker_name,"
        f" -ts_rank('{{0, 0, {weight:g}, 1}}', {words_column}, q, {_BY_LENGTH}) AS score"
        " FROM memories m, websearch_to_tsquery('english', ?) q"
        f" WHERE {words_column} @@ q"
    )
    return sql, " or ".join(words)


def _names_in(text: str, names: Iterable[str]) -> set[str]:
    """The names among ``names`` that ``text`` mentions as whole words."""
    found = set()
    for name in names:
        words = name.split()
        pattern = r"\s+".join(re.escape(word) for word in words)
        if words and re.search(rf"(?<!\w){pattern}(?!\w)", text, re.IGNORECASE):
            found.add(name)
    return found


class MemoryLedger:
    """Reads and writes memory records in the store, always within a scope.

    Where several processes share the store, ``owner`` names this process's channel
    leases: it remembers, indexes and observes only the channels no other process holds.
    """

    def __init__(self, store: Store, *, owner: str | None = None) -> None:
        self._store = store
        self._owner = owner
        self._holdings = Holdings()
        self._holdings_complete = False

    async def load_holdings(self) -> None:
        """Learn what every channel's memories could offer a recall (see :meth:`may_offer`).

        Writes meanwhile are counted too: counting the same memory twice changes nothing.
        """
        rows = await self._store.fetch(
            "SELECT channel, min(CASE WHEN kind = 'turn' THEN time END),"
            " max(CASE WHEN kind <> 'turn' THEN 1 ELSE 0 END)"
            " FROM memories GROUP BY channel"
        )
        for channel_text, oldest_turn, has_notes in rows:
            channel = ChannelKey.parse(channel_text)
            if oldest_turn is not None:
                self._holdings.add_turn(channel, datetime.fromisoformat(oldest_turn))
            if has_notes:
                self._holdings.add_note(channel)
        self._holdings_complete = True

    def may_offer(self, scope: Scope, *, shown_in: ChannelKey, shown_since: datetime) -> bool:
        """Whether ``scope`` may hold a memory besides the turns of ``shown_in`` said at
        ``shown_since`` or later; False only when that is certain (answered from memory,
        once :meth:`load_holdings` ran; until then always True)."""
        if not self._holdings_complete:
            return True
        return self._holdings.may_offer(scope, shown_in=shown_in, shown_since=shown_since)

    def holds_any(self, scope: Scope) -> bool:
        """Whether ``scope`` may hold any memory at all (True until :meth:`load_holdings`)."""
        if not self._holdings_complete:
            return True
        return self._holdings.holds_any(scope)

    def _not_elsewhere(self, alias: str) -> tuple[str, list[Any]]:
        """A condition (on ``alias``'s channel) leaving out channels another process holds."""
        if self._owner is None:
            return "", []
        return (
            f" AND NOT EXISTS ({_HELD_ELSEWHERE.format(channel=f'{alias}.channel')})",
            [self._owner, utc_text(datetime.now(UTC))],
        )

    async def held_elsewhere(self, channel: ChannelKey) -> bool:
        """Whether another process holds ``channel`` (so it remembers and observes it)."""
        if self._owner is None:
            return False
        row = await self._store.fetch_one(
            _HELD_ELSEWHERE.format(channel="?"),
            (str(channel), self._owner, utc_text(datetime.now(UTC))),
        )
        return row is not None

    async def pending_turns(self, limit: int) -> list[PendingTurn]:
        """Stored turns not yet remembered, oldest first."""
        condition, parameters = self._not_elsewhere("t")
        rows = await self._store.fetch(
            "SELECT t.seq, t.channel, t.speaker_id, t.speaker_name, t.is_character, t.text,"
            f" t.time FROM turns t WHERE t.remembered = 0{condition} ORDER BY t.seq LIMIT ?",
            (*parameters, limit),
        )
        return [_pending(row) for row in rows]

    async def remember_turns(
        self, turns: Sequence[tuple[PendingTurn, frozenset[str], float]]
    ) -> None:
        """Record turns as memories, each with its witnesses and importance.

        A turn deleted meanwhile is skipped; a turn remembered before (then edited) is
        updated and queued for its vector again.
        """
        for turn, _, _ in turns:
            self._holdings.add_turn(turn.channel, turn.time)
        remembered = [
            (_witness_text(witnesses), importance, str(turn.channel), turn.seq, turn.seq)
            for turn, witnesses, importance in turns
        ]
        neighbours = [(turn.seq, str(turn.channel), turn.seq) for turn, _, _ in turns]
        marked = [(turn.seq, str(turn.channel)) for turn, _, _ in turns]

        def remember(db: Session) -> None:
            db.executemany(
                "INSERT INTO memories (turn_seq, kind, channel, platform, server,"
                " speaker_id, speaker_name, witnesses, text, time, importance, before_text)"
                " SELECT seq, 'turn', channel, platform, server, speaker_id, speaker_name,"
                f" ?, text, time, ?, coalesce(({_PREVIOUS_TEXT}), '')"
                " FROM turns WHERE seq = ?"
                " ON CONFLICT (turn_seq) DO UPDATE SET speaker_id = excluded.speaker_id,"
                " speaker_name = excluded.speaker_name, text = excluded.text,"
                " time = excluded.time, importance = excluded.importance, embedded = 0",
                remembered,
            )
            db.executemany(
                "UPDATE memories SET after_text = (SELECT text FROM turns WHERE seq = ?)"
                " WHERE id = (SELECT p.id FROM memories p WHERE p.kind = 'turn'"
                " AND p.channel = ? AND p.turn_seq < ? ORDER BY p.turn_seq DESC LIMIT 1)",
                neighbours,
            )
            db.executemany("UPDATE turns SET remembered = 1 WHERE seq = ? AND channel = ?", marked)

        await self._store.transaction(remember)

    async def add_note(
        self,
        *,
        channel: ChannelKey,
        speaker_id: str,
        speaker_name: str,
        text: str,
        time: datetime,
        importance: float,
        witnesses: Iterable[str],
        kind: MemoryKind = "note",
        sources: Sequence[int] = (),
    ) -> int:
        """Store a note drawn from several turns, linked to ``sources`` (the ids of the
        turn memories it came from, best first); returns its id."""
        if kind == "turn":
            self._holdings.add_turn(channel, time)
        else:
            self._holdings.add_note(channel)
        async with self._store.write() as db:
            outcome = await db.execute(
                "INSERT INTO memories (turn_seq, kind, channel, platform, server, speaker_id,"
                " speaker_name, witnesses, text, time, importance)"
                " VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    kind,
                    str(channel),
                    channel.platform,
                    channel.server,
                    speaker_id,
                    speaker_name,
                    _witness_text(witnesses),
                    text,
                    utc_text(time),
                    importance,
                ),
            )
            note_id = int(outcome.rows[0][0])
            await db.executemany(
                "INSERT INTO memory_sources (memory_id, source_id, position)"
                " SELECT ?, id, ? FROM memories WHERE id = ? ON CONFLICT DO NOTHING",
                [(note_id, position, source) for position, source in enumerate(sources)],
            )
        return note_id

    async def sources_of(self, ids: Iterable[int]) -> dict[int, list[int]]:
        """The ids of the turn memories each of these notes was drawn from, best first
        (notes without sources are left out)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        rows = await self._store.fetch(
            "SELECT memory_id, source_id FROM memory_sources"
            f" WHERE memory_id IN ({marks}) ORDER BY memory_id, position",
            wanted,
        )
        found: dict[int, list[int]] = {}
        for memory_id, source_id in rows:
            found.setdefault(int(memory_id), []).append(int(source_id))
        return found

    async def turn_memories(self, seqs: Iterable[int]) -> dict[int, int]:
        """The memory id of each of these stored turns that is remembered, by turn seq."""
        wanted = list(dict.fromkeys(seqs))
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        rows = await self._store.fetch(
            f"SELECT turn_seq, id FROM memories WHERE turn_seq IN ({marks})", wanted
        )
        return {int(seq): int(memory_id) for seq, memory_id in rows}

    async def unembedded(self, limit: int) -> list[Memory]:
        """Memories whose vector is not in the vector index yet, oldest first."""
        condition, parameters = self._not_elsewhere("m")
        rows = await self._store.fetch(
            f"SELECT {_COLUMNS} FROM memories m WHERE m.embedded = 0{condition}"
            " ORDER BY m.id LIMIT ?",
            (*parameters, limit),
        )
        return [_memory(row) for row in rows]

    async def mark_embedded(self, memories: Sequence[Memory]) -> None:
        """Note that these memories' vectors are in the index (unless edited meanwhile)."""
        embedded = [(m.id, m.text) for m in memories]
        await self._store.transaction(
            lambda db: db.executemany(
                "UPDATE memories SET embedded = 1 WHERE id = ? AND text = ?", embedded
            )
        )

    async def mark_all_unembedded(self) -> None:
        """Queue every memory for a new vector (the embedding model changed)."""
        async with self._store.write() as db:
            await db.execute("UPDATE memories SET embedded = 0")

    async def search_text(
        self,
        query: str,
        scope: Scope,
        limit: int,
        *,
        neighbours: float = 0.0,
        named_speaker: float = 0.0,
    ) -> list[int]:
        """Ids of the memories in ``scope`` whose words best match ``query``, best first.

        The score is BM25 (on Postgres, ``ts_rank``) over the memory's speaker and text,
        and the turns just before and after it weighted ``neighbours``; plus
        ``named_speaker`` when ``query`` names the memory's speaker.
        """
        words = telling_words(query)
        if not words:
            return []
        where, parameters = _scope_sql(scope)
        if self._store.dialect == "postgres":
            sql, found = _postgres_search(words, neighbours=neighbours)
        else:
            sql, found = _sqlite_search(words, neighbours=neighbours)
        rows = await self._store.fetch(
            f"{sql} AND {where} ORDER BY score LIMIT ?",
            (found, *parameters, limit * _CANDIDATE_FACTOR),
        )
        named = _names_in(query, {str(row[1]) for row in rows})
        scored = [
            (-float(row[2]) + named_speaker * (row[1] in named), -index, int(row[0]))
            for index, row in enumerate(rows)
        ]
        scored.sort(reverse=True)
        return [memory_id for _, _, memory_id in scored[:limit]]

    async def get(self, ids: Iterable[int], scope: Scope) -> list[Memory]:
        """The memories with these ids that lie inside ``scope`` (others are left out)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        where, parameters = _scope_sql(scope)
        marks = ", ".join("?" * len(wanted))
        rows = await self._store.fetch(
            f"SELECT {_COLUMNS} FROM memories m WHERE m.id IN ({marks}) AND {where}",
            (*wanted, *parameters),
        )
        return [_memory(row) for row in rows]

    async def inside(self, ids: Iterable[int], scope: Scope) -> set[int]:
        """Those of these memory ids that lie inside ``scope``."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return set()
        where, parameters = _scope_sql(scope)
        marks = ", ".join("?" * len(wanted))
        rows = await self._store.fetch(
            f"SELECT m.id FROM memories m WHERE m.id IN ({marks}) AND {where}",
            (*wanted, *parameters),
        )
        return {int(row[0]) for row in rows}

    async def forget_turns(self, where: str, parameters: Sequence[Any]) -> tuple[int, list[int]]:
        """Delete the turns matching ``where`` (on alias ``t``) and the memories drawn from them.

        Notes drawn from any of those turns go too, since they may repeat what was said.
        Returns how many turns went and the ids of the deleted memories (for the vector
        index). Their delivery records stay, marked done, so a redelivery is not stored again.
        """
        async with self._store.write() as db:
            outcome = await db.execute(
                f"SELECT m.id FROM memories m JOIN turns t ON t.seq = m.turn_seq WHERE {where}",
                parameters,
            )
            memory_ids = [int(row[0]) for row in outcome.rows]
            outcome = await db.execute(
                "SELECT DISTINCT s.memory_id FROM memory_sources s"
                " JOIN memories m ON m.id = s.source_id JOIN turns t ON t.seq = m.turn_seq"
                f" WHERE {where}",
                parameters,
            )
            drawn = [int(row[0]) for row in outcome.rows]
            await db.executemany("DELETE FROM memories WHERE id = ?", [(i,) for i in drawn])
            memory_ids += drawn
            await db.execute(
                f"UPDATE events SET turn_seq = NULL, status = 'done' WHERE turn_seq IN"
                f" (SELECT t.seq FROM turns t WHERE {where})",
                parameters,
            )
            outcome = await db.execute(
                f"SELECT DISTINCT t.channel FROM turns t WHERE {where}", parameters
            )
            channels = [str(row[0]) for row in outcome.rows]
            outcome = await db.execute(f"DELETE FROM turns AS t WHERE {where}", parameters)
            turns = outcome.rowcount
            # Neighbours must not keep the forgotten words in the lexical index.
            await db.executemany(_NEIGHBOURS, [(channel,) for channel in channels])
        return turns, memory_ids

    async def newest(self, scope: Scope, limit: int) -> list[Memory]:
        """The last ``limit`` memories inside ``scope``, newest first."""
        where, parameters = _scope_sql(scope)
        rows = await self._store.fetch(
            f"SELECT {_COLUMNS} FROM memories m WHERE {where} ORDER BY m.id DESC LIMIT ?",
            (*parameters, limit),
        )
        return [_memory(row) for row in rows]

    async def forget_notes(self, scope: Scope, ids: Sequence[int] | None = None) -> list[int]:
        """Delete the notes inside ``scope`` (those of ``ids`` only, when given); returns
        their ids."""
        where, parameters = _scope_sql(scope)
        if ids is not None:
            where += f" AND m.id IN ({', '.join('?' * len(ids))})" if ids else " AND 0 = 1"
            parameters += list(ids)
        async with self._store.write() as db:
            outcome = await db.execute(
                f"SELECT m.id FROM memories m WHERE m.kind = 'note' AND {where}", parameters
            )
            ids = [int(row[0]) for row in outcome.rows]
            await db.executemany("DELETE FROM memories WHERE id = ?", [(i,) for i in ids])
        return ids

    async def unwitness(self, scope: Scope) -> list[int]:
        """Remove ``scope.character`` from the witnesses of every memory in ``scope``.

        Memories nobody witnesses any more are deleted. Returns the ids changed.
        """
        if scope.character is None:
            raise ValueError("unwitness needs a character")
        where, parameters = _scope_sql(scope)
        async with self._store.write() as db:
            outcome = await db.execute(f"SELECT m.id FROM memories m WHERE {where}", parameters)
            ids = [int(row[0]) for row in outcome.rows]
            await db.executemany(
                "UPDATE memories SET witnesses = replace(witnesses, ?, ' ') WHERE id = ?",
                [(f" {scope.character} ", i) for i in ids],
            )
            await db.execute("DELETE FROM memories WHERE kind = 'note' AND trim(witnesses) = ''")
        return ids

    async def setting(self, key: str) -> Any:
        """A memory-wide setting (such as the embedding model in use)."""
        return await self._store.get_setting("memory", key)

    async def set_setting(self, key: str, value: Any) -> None:
        """Store a memory-wide setting."""
        await self._store.set_setting("memory", key, value)

    async def backlog(self) -> int:
        """Turns not yet remembered plus memories not yet in the vector index."""
        row = await self._store.fetch_one(
            "SELECT (SELECT count(*) FROM turns WHERE remembered = 0)"
            " + (SELECT count(*) FROM memories WHERE embedded = 0)"
        )
        return int(row[0])

    async def turns_after(self, channel: ChannelKey, seq: int, limit: int) -> list[PendingTurn]:
        """Up to ``limit`` turns of ``channel`` stored after ``seq``, oldest first."""
        rows = await self._store.fetch(
            "SELECT seq, channel, speaker_id, speaker_name, is_character, text, time"
            " FROM turns WHERE channel = ? AND seq > ? ORDER BY seq LIMIT ?",
            (str(channel), seq, limit),
        )
        return [_pending(row) for row in rows]

    async def channels(self) -> list[ChannelKey]:
        """Every channel that has stored turns."""
        rows = await self._store.fetch("SELECT DISTINCT channel FROM turns")
        return [ChannelKey.parse(str(row[0])) for row in rows]

    async def find_author(self, channel: ChannelKey, who: str) -> tuple[str, str] | None:
        """A human on ``channel``'s server by id or display name: (id, name), or None."""
        row = await self._store.fetch_one(
            "SELECT speaker_id, speaker_name FROM turns WHERE platform = ? AND server = ?"
            " AND is_character = 0 AND (speaker_id = ? OR lower(speaker_name) = lower(?))"
            " ORDER BY seq DESC LIMIT 1",
            (channel.platform, channel.server, who, who),
        )
        return None if row is None else (str(row[0]), str(row[1]))
