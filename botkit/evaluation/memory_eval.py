"""Recall@k and query latency of long-term memory, through the code path the bot uses.

Turns are stored as the router stores members' messages, indexed by the memory service's
background writer, then every question is recalled as a character who witnessed all.
The configured ranking runs beside a dense-only and a lexical-only (BM25) baseline.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from botkit.evaluation.memory_data import EvalConversation
from botkit.evaluation.stats import percentile
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.memory.embeddings import Embedder
from botkit.memory.factory import open_memory
from botkit.memory.ranking import RankingWeights
from botkit.memory.records import Scope
from botkit.memory.service import MemoryService
from botkit.memory.settings import MemorySettings
from botkit.store import Store

__all__ = ["MemoryEvalResult", "VariantResult", "evaluate_memory", "format_result"]

READER = "reader"
"""The character id every eval turn is witnessed by and every question is asked as."""


@dataclass(frozen=True, slots=True)
class VariantResult:
    """One ranking's scores."""

    name: str
    recall: dict[int, float]
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class MemoryEvalResult:
    """Scores of every ranking, and the size of the run."""

    conversations: int
    turns: int
    questions: int
    index_seconds: float
    variants: list[VariantResult]


def _variants(weights: RankingWeights) -> list[tuple[str, RankingWeights]]:
    return [
        ("configured (hybrid)", weights),
        ("dense only", dataclasses.replace(weights, lexical=0.0)),
        (
            "lexical baseline (BM25)",
            RankingWeights(recency=0.0, importance=0.0, dense=0.0, lexical=1.0),
        ),
    ]


async def _index(
    store: Store, memory: MemoryService, conversations: Sequence[EvalConversation]
) -> None:
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
    await memory.flush()


async def evaluate_memory(
    conversations: Sequence[EvalConversation],
    *,
    ks: Sequence[int],
    settings: MemorySettings,
    embedder: Embedder | None = None,
    progress: Callable[[str], None] = lambda _message: None,
) -> MemoryEvalResult:
    """Index ``conversations`` in a temporary store and score recall@k for each ranking."""
    depth = max(ks)
    with tempfile.TemporaryDirectory(prefix="botkit-eval-") as folder:
        data_dir = Path(folder)
        store = await Store.open(data_dir / "eval.sqlite3")
        memory: MemoryService | None = None
        try:
            memory = await open_memory(
                dataclasses.replace(settings, chroma={}, notes_every=0),
                data_dir=data_dir,
                store=store,
                cast_of=_reader,
                embedder=embedder,
            )
            await memory.start()
            turns = sum(len(c.turns) for c in conversations)
            progress(f"Indexing {turns} turns of {len(conversations)} conversations …")
            started = time.perf_counter()
            await _index(store, memory, conversations)
            index_seconds = time.perf_counter() - started
            seq_to_turn = {
                int(row[0]): str(row[1])
                for row in await store.fetch("SELECT seq, message_id FROM turns")
            }
            variants = []
            for name, weights in _variants(settings.weights):
                progress(f"Asking the questions ({name}) …")
                memory.settings = dataclasses.replace(settings, weights=weights)
                variants.append(
                    await _score(memory, conversations, seq_to_turn, ks=ks, depth=depth, name=name)
                )
        finally:
            if memory is not None:
                await memory.aclose()
            await store.close()
    return MemoryEvalResult(
        conversations=len(conversations),
        turns=turns,
        questions=sum(len(c.questions) for c in conversations),
        index_seconds=index_seconds,
        variants=variants,
    )


async def _reader(_channel: ChannelKey) -> list[str]:
    return [READER]


async def _score(
    memory: MemoryService,
    conversations: Sequence[EvalConversation],
    seq_to_turn: dict[int, str],
    *,
    ks: Sequence[int],
    depth: int,
    name: str,
) -> VariantResult:
    hits: dict[int, list[float]] = {k: [] for k in ks}
    latencies: list[float] = []
    for conversation in conversations:
        scope = Scope("eval", conversation.id, None, READER)
        now = conversation.turns[-1].time + timedelta(minutes=1)
        for question in conversation.questions:
            started = time.perf_counter()
            found = await memory.recall(question.question, scope, now=now, limit=depth)
            latencies.append((time.perf_counter() - started) * 1000)
            ranked = [seq_to_turn.get(r.memory.turn_seq or -1) for r in found]
            gold = set(question.evidence)
            for k in ks:
                hits[k].append(len(gold & set(ranked[:k])) / len(gold))
    return VariantResult(
        name=name,
        recall={k: statistics.fmean(values) if values else 0.0 for k, values in hits.items()},
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
    )


def format_result(result: MemoryEvalResult) -> str:
    """The result as a plain-text table."""
    ks = sorted(result.variants[0].recall) if result.variants else []
    header = f"{'ranking':<26}" + "".join(f"{'recall@' + str(k):>11}" for k in ks)
    header += f"{'p50 ms':>9}{'p99 ms':>9}"
    lines = [
        f"memory eval: {result.conversations} conversations, {result.turns} turns, "
        f"{result.questions} questions; indexed in {result.index_seconds:.1f} s",
        header,
    ]
    for variant in result.variants:
        row = f"{variant.name:<26}" + "".join(f"{variant.recall[k]:>11.3f}" for k in ks)
        lines.append(row + f"{variant.p50_ms:>9.1f}{variant.p99_ms:>9.1f}")
    return "\n".join(lines)
