"""Recall@k and query latency of long-term memory, through the code path the bot uses.

Turns are stored as the router stores members' messages, indexed by the memory service's
background writer, then every question is recalled as a character who witnessed all.
The configured ranking runs beside a dense-only and a lexical-only (BM25) baseline.
Given a backend, it then writes observations on every session (LoCoMo's sessions are days
apart, so each falls quiet) and scores the configured ranking again with them, counting
an observation's source turns two ways: in the places they take right after it (what a
prompt gets), and all at the observation's place, as the LoCoMo paper counts retrieved
observations and session summaries.
Recall is reported over all questions, and apart for each question category the dataset
has and, when asked, for a fitting and a report split of the conversations.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from botkit.backends.base import ChatBackend
from botkit.evaluation.memory_data import EvalConversation, EvalDataset, Skipped
from botkit.evaluation.stats import percentile
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.memory.embeddings import Embedder
from botkit.memory.factory import open_memory
from botkit.memory.notes import MAX_SOURCES, NoteTaker, split_sessions
from botkit.memory.ranking import RankingWeights
from botkit.memory.records import Scope
from botkit.memory.service import MemoryService
from botkit.memory.settings import MemorySettings
from botkit.store import Store

__all__ = [
    "LEXICAL_BASELINE",
    "GroupResult",
    "MemoryEvalResult",
    "ObservationRun",
    "Progress",
    "ProgressBar",
    "VariantResult",
    "evaluate_memory",
    "format_result",
    "result_json",
]

LEXICAL_BASELINE = "lexical baseline (BM25)"
"""The ranking beside botkit's own in every memory evaluation: words alone, by BM25."""
READER = "reader"
"""The character id every eval turn is witnessed by and every question is asked as."""

INDEXING = "indexing turns"
"""The progress stage of storing and indexing the turns."""
OBSERVING = "writing observations"
"""The progress stage of writing observations on each session."""
WITH_OBSERVATIONS = "with observations"
"""The configured ranking over turns and observations, each memory in a place of its own."""
PAPER_COUNT = "with observations, paper count"
"""The same ranking, each observation's place counting all its source turns."""

Progress = Callable[[str, int, int], None]
"""Told (stage, done, total) as the eval goes: at 0, as work is done, and at total."""

_WATCH_SECONDS = 0.5
_REDRAW_SECONDS = 0.1
_BAR_WIDTH = 24
_SHOWN_IDS = 10


@dataclass(frozen=True, slots=True)
class VariantResult:
    """One ranking's scores over all questions."""

    name: str
    recall: dict[int, float]
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class GroupResult:
    """Every ranking's recall@k over a part of the questions: a split or a category."""

    kind: str
    """``split`` (a range of conversations) or ``category`` (a kind of question)."""
    key: str
    """``fit`` or ``report`` for a split; the category's number for a category."""
    label: str
    """``conversations 0–4`` for a split; the category's name for a category."""
    conversations: tuple[str, ...]
    """Ids of the conversations the group's questions are about."""
    questions: int
    recall: dict[str, dict[int, float]]
    """Recall@k by ranking name, then k."""


@dataclass(frozen=True, slots=True)
class ObservationRun:
    """What writing the observations took."""

    backend: str
    sessions: int
    """Sessions written up."""
    observations: int
    """Observations kept (each linked to at least one turn)."""
    seconds: float

    @property
    def seconds_per_session(self) -> float:
        """Seconds spent on each session, on average."""
        return self.seconds / self.sessions if self.sessions else 0.0


@dataclass(frozen=True, slots=True)
class MemoryEvalResult:
    """Scores of every ranking, over all questions and by group, and the size of the run."""

    conversations: int
    turns: int
    questions: int
    index_seconds: float
    variants: list[VariantResult]
    groups: list[GroupResult] = dataclasses.field(default_factory=list)
    skipped: Skipped = dataclasses.field(default_factory=Skipped)
    observations: ObservationRun | None = None

    @property
    def turns_per_second(self) -> float:
        """Turns stored and indexed per second."""
        return self.turns / self.index_seconds if self.index_seconds > 0 else 0.0


class ProgressBar:
    """Shows eval progress with an ETA on ``stream`` (a :data:`Progress` to pass along).

    On a terminal one line is redrawn in place; elsewhere (a log, a pipe) a line is
    written at the start of each stage and at every tenth of the way.
    """

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._live = stream.isatty()
        self._clock = clock
        self._stage = ""
        self._started = 0.0
        self._tenths = -1
        self._drawn = 0.0
        self._finished = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        """Show that ``done`` of ``total`` steps of ``stage`` are done."""
        now = self._clock()
        if stage != self._stage or (self._finished and done < total):
            self._stage, self._started, self._tenths, self._drawn = stage, now, -1, 0.0
        elif self._finished:
            return
        finished = self._finished = done >= total
        if self._live:
            if finished or done == 0 or now - self._drawn >= _REDRAW_SECONDS:
                self._drawn = now
                end = "\n" if finished else ""
                self._stream.write(f"\r{self._line(done, total, now)}\x1b[K{end}")
                self._stream.flush()
            return
        tenths = 10 if finished else done * 10 // total
        if tenths > self._tenths:
            self._tenths = tenths
            self._stream.write(self._line(done, total, now) + "\n")
            self._stream.flush()

    def _line(self, done: int, total: int, now: float) -> str:
        fraction = min(1.0, done / total) if total else 1.0
        filled = round(fraction * _BAR_WIDTH)
        elapsed = now - self._started
        line = (
            f"{self._stage} [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] "
            f"{fraction:4.0%} {done}/{total} in {_duration(elapsed)}"
        )
        if 0 < done < total:
            line += f", about {_duration(elapsed / done * (total - done))} left"
        return line


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _quiet(_stage: str, _done: int, _total: int) -> None:
    """A :data:`Progress` that shows nothing."""


def _variants(weights: RankingWeights) -> list[tuple[str, RankingWeights]]:
    return [
        ("configured (hybrid)", weights),
        ("without neighbours", dataclasses.replace(weights, neighbours=0.0)),
        ("without named speakers", dataclasses.replace(weights, named_speaker=0.0)),
        ("without time matching", dataclasses.replace(weights, timely=0.0)),
        ("lexical only", dataclasses.replace(weights, dense=0.0)),
        ("dense only", dataclasses.replace(weights, lexical=0.0)),
        (
            LEXICAL_BASELINE,
            RankingWeights(
                recency=0.0,
                importance=0.0,
                dense=0.0,
                lexical=1.0,
                neighbours=0.0,
                named_speaker=0.0,
                timely=0.0,
            ),
        ),
    ]


async def _index(
    store: Store,
    memory: MemoryService,
    conversations: Sequence[EvalConversation],
    progress: Progress,
) -> None:
    total = sum(len(c.turns) for c in conversations)
    recorded = 0

    async def watch() -> None:
        while True:
            await asyncio.sleep(_WATCH_SECONDS)
            progress(INDEXING, max(0, recorded - await memory.ledger.backlog()), total)

    progress(INDEXING, 0, total)
    watcher = asyncio.create_task(watch())
    try:
        for conversation in conversations:
            channel = ChannelKey("eval", conversation.id, "main")
            for turn in conversation.turns:
                await store.record_incoming(
                    MessageEvent(
                        event_id=f"{conversation.id}/{turn.id}",
                        channel=channel,
                        author=Author(turn.speaker, turn.speaker),
                        text=turn.text,
                        message_id=turn.id,
                        time=turn.time,
                    )
                )
                recorded += 1
        await memory.flush()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    progress(INDEXING, total, total)


async def evaluate_memory(
    dataset: EvalDataset,
    *,
    ks: Sequence[int],
    settings: MemorySettings,
    split: int | None = None,
    embedder: Embedder | None = None,
    observer: ChatBackend | None = None,
    progress: Progress = _quiet,
) -> MemoryEvalResult:
    """Index ``dataset`` in a temporary store and score recall@k for each ranking.

    ``split`` N also scores conversations [0, N) ("fit") and [N, end) ("report") apart.
    With ``observer``, it then writes observations on each session (as the settings'
    ``observe_quiet_minutes`` and ``observe_every`` cut them) and scores the configured
    ranking with them.

    Raises:
        ValueError: ``split`` leaves one side empty.
    """
    conversations = dataset.conversations
    if split is not None and not 0 < split < len(conversations):
        raise ValueError(f"split: expected 1 to {len(conversations) - 1}, got {split}")
    depth = max(ks)
    with tempfile.TemporaryDirectory(prefix="botkit-eval-") as folder:
        data_dir = Path(folder)
        store = await Store.open(data_dir / "eval.sqlite3")
        memory: MemoryService | None = None
        try:
            memory = await open_memory(
                dataclasses.replace(settings, chroma={}),
                data_dir=data_dir,
                store=store,
                cast_of=_reader,
                embedder=embedder,
            )
            await memory.start()
            started = time.perf_counter()
            await _index(store, memory, conversations, progress)
            index_seconds = time.perf_counter() - started
            seq_to_turn = {
                int(row[0]): str(row[1])
                for row in await store.fetch("SELECT seq, message_id FROM turns")
            }
            variants = []
            hits: dict[str, list[dict[int, float]]] = {}

            async def score(name: str, units: dict[int, set[str]] | None = None) -> None:
                """Ask every question with ``memory``'s settings; keep the row and its hits."""
                assert memory is not None
                variant, hits[name] = await _score(
                    memory,
                    conversations,
                    seq_to_turn,
                    ks=ks,
                    depth=depth,
                    name=name,
                    progress=progress,
                    units=units,
                )
                variants.append(variant)

            for name, weights in _variants(settings.weights):
                memory.settings = dataclasses.replace(settings, weights=weights)
                await score(name)
            observed = None
            if observer is not None:
                observed = await _observe(memory, store, observer, conversations, progress)
                memory.settings = settings
                await score(WITH_OBSERVATIONS)
                await score(PAPER_COUNT, await _turns_of_observations(store))
        finally:
            if memory is not None:
                await memory.aclose()
            await store.close()
    return MemoryEvalResult(
        conversations=len(conversations),
        turns=sum(len(c.turns) for c in conversations),
        questions=sum(len(c.questions) for c in conversations),
        index_seconds=index_seconds,
        variants=variants,
        groups=_groups(dataset, split, hits, ks),
        skipped=dataset.skipped,
        observations=observed,
    )


async def _reader(_channel: ChannelKey) -> list[str]:
    return [READER]


async def _observe(
    memory: MemoryService,
    store: Store,
    backend: ChatBackend,
    conversations: Sequence[EvalConversation],
    progress: Progress,
) -> ObservationRun:
    """Have ``backend`` write observations on every session, as the bot's writer does."""
    settings = memory.settings
    quiet = timedelta(minutes=settings.observe_quiet_minutes)
    every = settings.observe_every
    total = sum(
        len(split_sessions([t.time for t in c.turns], quiet=quiet, every=every))
        for c in conversations
    )
    taker = NoteTaker(backend, quiet=quiet, every=every)

    async def watch() -> None:
        while True:
            await asyncio.sleep(_WATCH_SECONDS)
            progress(OBSERVING, min(taker.sessions_observed, total), total)

    progress(OBSERVING, 0, total)
    started = time.perf_counter()
    watcher = asyncio.create_task(watch())
    try:
        await memory.observe_with(taker)
        await memory.flush()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    seconds = time.perf_counter() - started
    progress(OBSERVING, total, total)
    row = await store.fetch_one("SELECT count(*) FROM memories WHERE kind = 'note'")
    return ObservationRun(backend.name, taker.sessions_observed, int(row[0]), seconds)


async def _turns_of_observations(store: Store) -> dict[int, set[str]]:
    """The ids of the dataset turns each observation was drawn from, by observation id."""
    rows = await store.fetch(
        "SELECT s.memory_id, t.message_id FROM memory_sources s"
        " JOIN memories m ON m.id = s.source_id JOIN turns t ON t.seq = m.turn_seq"
    )
    found: dict[int, set[str]] = {}
    for memory_id, message_id in rows:
        found.setdefault(int(memory_id), set()).add(str(message_id))
    return found


async def _score(
    memory: MemoryService,
    conversations: Sequence[EvalConversation],
    seq_to_turn: dict[int, str],
    *,
    ks: Sequence[int],
    depth: int,
    name: str,
    progress: Progress,
    units: dict[int, set[str]] | None = None,
) -> tuple[VariantResult, list[dict[int, float]]]:
    """The ranking's scores, and each question's recall@k in dataset order.

    Each recalled memory takes a place and counts its own turn (an observation counts
    none; its sources count in the places they take after it). With ``units`` (the turns
    of each observation) an observation's place counts all its source turns instead, and
    the sources recalled for its sake take no places of their own.
    """
    stage = f"asking ({name})"
    total = sum(len(c.questions) for c in conversations)
    progress(stage, 0, total)
    hits: list[dict[int, float]] = []
    latencies: list[float] = []
    for conversation in conversations:
        scope = Scope("eval", conversation.id, None, READER)
        now = conversation.turns[-1].time + timedelta(minutes=1)
        for question in conversation.questions:
            started = time.perf_counter()
            limit = depth if units is None else depth * (1 + MAX_SOURCES)
            found = await memory.recall(question.question, scope, now=now, limit=limit)
            latencies.append((time.perf_counter() - started) * 1000)
            ranked = [
                _turns_counted(r.memory.id, seq_to_turn.get(r.memory.turn_seq or -1), units)
                for r in found
                if units is None or r.via is None
            ]
            gold = set(question.evidence)
            hits.append({k: len(gold & set().union(*ranked[:k])) / len(gold) for k in ks})
            progress(stage, len(hits), total)
    variant = VariantResult(
        name=name,
        recall=_mean_recall(hits, range(len(hits)), ks),
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
    )
    return variant, hits


def _turns_counted(memory_id: int, turn: str | None, units: dict[int, set[str]] | None) -> set[str]:
    """The dataset turns a recalled memory counts: its own, or an observation's sources
    when ``units`` are counted."""
    if turn is not None:
        return {turn}
    return units.get(memory_id, set()) if units is not None else set()


def _mean_recall(
    hits: Sequence[dict[int, float]], members: Sequence[int], ks: Sequence[int]
) -> dict[int, float]:
    return {k: statistics.fmean(hits[i][k] for i in members) if members else 0.0 for k in ks}


def _groups(
    dataset: EvalDataset,
    split: int | None,
    hits: dict[str, list[dict[int, float]]],
    ks: Sequence[int],
) -> list[GroupResult]:
    """Recall over each split (when ``split`` is given), then over each category present."""
    asked = [
        (c, question.category)
        for c, conversation in enumerate(dataset.conversations)
        for question in conversation.questions
    ]
    ids = [conversation.id for conversation in dataset.conversations]

    def group(
        kind: str, key: str, label: str, covered: list[int], members: list[int]
    ) -> GroupResult:
        return GroupResult(
            kind=kind,
            key=key,
            label=label,
            conversations=tuple(ids[c] for c in covered),
            questions=len(members),
            recall={name: _mean_recall(found, members, ks) for name, found in hits.items()},
        )

    groups = []
    if split is not None:
        for key, first, end in (("fit", 0, split), ("report", split, len(ids))):
            members = [i for i, (c, _) in enumerate(asked) if first <= c < end]
            span = (
                f"conversations {first}–{end - 1}" if end - first > 1 else f"conversation {first}"
            )
            groups.append(group("split", key, span, list(range(first, end)), members))
    for category in sorted({category for _, category in asked if category is not None}):
        members = [i for i, (_, asked_category) in enumerate(asked) if asked_category == category]
        covered = sorted({asked[i][0] for i in members})
        label = dataset.categories.get(category, "")
        groups.append(group("category", str(category), label, covered, members))
    return groups


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _skipped_line(skipped: Skipped) -> str:
    unknown = skipped.unknown_ids
    shown = ", ".join(unknown[:_SHOWN_IDS])
    if len(unknown) > _SHOWN_IDS:
        shown += f" and {len(unknown) - _SHOWN_IDS} more"
    return (
        f"skipped: {_count(skipped.unanswerable, 'unanswerable question')} (category 5), "
        f"{_count(skipped.without_evidence, 'question')} listing no evidence, "
        f"{_count(skipped.unknown_evidence_only, 'question')} whose evidence matches no turn; "
        f"left out {_count(len(unknown), 'evidence id')} matching no turn"
        + (f": {shown}" if unknown else "")
    )


def _title(group: GroupResult) -> str:
    questions = _count(group.questions, "question")
    if group.kind == "category":
        named = f" ({group.label})" if group.label else ""
        return f"category {group.key}{named}: {questions}"
    ids = group.conversations
    shown = ", ".join(ids) if len(ids) <= 2 else f"{ids[0]} … {ids[-1]}"
    return f"{group.key}: {group.label} ({shown}), {questions}"


def format_result(result: MemoryEvalResult) -> str:
    """The result as plain-text tables: all questions, then each split and category."""
    ks = sorted(result.variants[0].recall) if result.variants else []
    columns = "".join(f"{'recall@' + str(k):>11}" for k in ks)
    lines = [
        f"memory eval: {result.conversations} conversations, {result.turns} turns, "
        f"{result.questions} questions; indexed in {result.index_seconds:.1f} s "
        f"({result.turns_per_second:.1f} turns/s)",
    ]
    if result.skipped.any:
        lines.append(_skipped_line(result.skipped))
    observed = result.observations
    if observed is not None:
        lines.append(
            f"observations: {observed.observations} kept from {observed.sessions} sessions "
            f"written up by {observed.backend} in {observed.seconds:.1f} s "
            f"({observed.seconds_per_session:.1f} s per session)"
        )
    lines.append(f"{'ranking':<32}{columns}{'p50 ms':>9}{'p99 ms':>9}")
    for variant in result.variants:
        row = f"{variant.name:<32}" + "".join(f"{variant.recall[k]:>11.3f}" for k in ks)
        lines.append(row + f"{variant.p50_ms:>9.1f}{variant.p99_ms:>9.1f}")
    for group in result.groups:
        lines += ["", _title(group), f"{'ranking':<32}{columns}"]
        for name, recall in group.recall.items():
            lines.append(f"{name:<32}" + "".join(f"{recall[k]:>11.3f}" for k in ks))
    return "\n".join(lines)


def _recall_json(recall: dict[int, float]) -> dict[str, float]:
    return {str(k): value for k, value in sorted(recall.items())}


def result_json(result: MemoryEvalResult) -> dict[str, object]:
    """The result as one JSON-ready object.

    Keys: conversations, turns, questions, index_seconds, turns_per_second, rankings
    (name, recall by k, p50_ms, p99_ms), skipped (counts), unknown_evidence (the ids),
    splits (by name) and categories (by number), each with questions and recall by
    ranking name then k; observations (backend, sessions, observations, seconds) or null.
    """
    skipped = result.skipped
    observed = result.observations
    return {
        "conversations": result.conversations,
        "turns": result.turns,
        "questions": result.questions,
        "index_seconds": result.index_seconds,
        "turns_per_second": result.turns_per_second,
        "rankings": [
            {
                "name": v.name,
                "recall": _recall_json(v.recall),
                "p50_ms": v.p50_ms,
                "p99_ms": v.p99_ms,
            }
            for v in result.variants
        ],
        "skipped": {
            "unanswerable_questions": skipped.unanswerable,
            "questions_without_evidence": skipped.without_evidence,
            "questions_with_unknown_evidence_only": skipped.unknown_evidence_only,
            "unknown_evidence_ids": len(skipped.unknown_ids),
        },
        "unknown_evidence": list(skipped.unknown_ids),
        "observations": None
        if observed is None
        else {
            "backend": observed.backend,
            "sessions": observed.sessions,
            "observations": observed.observations,
            "seconds": observed.seconds,
        },
        "splits": {
            g.key: {
                "conversations": list(g.conversations),
                "questions": g.questions,
                "recall": {name: _recall_json(r) for name, r in g.recall.items()},
            }
            for g in result.groups
            if g.kind == "split"
        },
        "categories": {
            g.key: {
                "name": g.label,
                "questions": g.questions,
                "recall": {name: _recall_json(r) for name, r in g.recall.items()},
            }
            for g in result.groups
            if g.kind == "category"
        },
    }
