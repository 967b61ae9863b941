"""Memory's parts on their own: the encoder, ranking, importance, notes, config, embeddings API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from botkit.config import ConfigError, parse_config
from botkit.events import ChannelKey
from botkit.memory.embeddings import EmbeddingError, OpenAIEmbedder
from botkit.memory.importance import importance_of
from botkit.memory.ledger import match_expression
from botkit.memory.minilm import MiniLMEncoder
from botkit.memory.notes import parse_notes
from botkit.memory.provider import describe_age
from botkit.memory.ranking import RankingWeights, fuse, rank
from botkit.memory.records import Memory
from tests.support.openai_server import OpenAIServer, error_reply, json_reply

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ROOM = ChannelKey("test", "guild-1", "tavern")


def test_the_encoder_matches_the_published_sentence_similarities() -> None:
    encoder = MiniLMEncoder()
    vectors = encoder.encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    similarity = vectors @ vectors.T
    assert similarity[0, 1] == pytest.approx(0.6660, abs=5e-4)
    assert similarity[0, 2] == pytest.approx(0.1046, abs=5e-4)
    assert similarity[1, 2] == pytest.approx(0.1411, abs=5e-4)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1, 1, 1], abs=1e-5)


def test_padding_in_a_batch_does_not_change_a_vector() -> None:
    encoder = MiniLMEncoder()
    short = "Mira pours the ale."
    alone = encoder.encode([short])[0]
    batched = encoder.encode([short, "A much longer sentence " * 20])[0]
    assert float(alone @ batched) == pytest.approx(1.0, abs=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def memory(memory_id: int, *, days: float = 0, importance: float = 0.5) -> Memory:
    return Memory(
        id=memory_id,
        kind="turn",
        channel=ROOM,
        speaker_id="u",
        speaker_name="Ann",
        text=f"memory {memory_id}",
        time=NOW - timedelta(days=days),
        importance=importance,
        witnesses=frozenset({"mira"}),
    )


def test_fusion_adds_reciprocal_ranks_and_respects_weights() -> None:
    fused = fuse([(1.0, [1, 2, 3]), (1.0, [3, 4])], k=60)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert max(fused, key=fused.__getitem__) == 3
    assert fuse([(0.0, [1]), (1.0, [2])], k=60) == {2: pytest.approx(1 / 61)}


def test_ranking_prefers_relevance_then_recency_and_importance() -> None:
    weights = RankingWeights(relevance=1.0, recency=0.6, importance=0.5)
    memories = [memory(1, days=60), memory(2, days=0), memory(3, days=60, importance=1.0)]
    ranked = rank(memories, {1: 0.9, 2: 0.1, 3: 0.1}, now=NOW, weights=weights)
    assert [r.memory.id for r in ranked] == [1, 2, 3]
    assert ranked[0].relevance == 1.0 and ranked[1].recency == 1.0
    tie = rank(memories[1:], {2: 0.5, 3: 0.5}, now=NOW, weights=weights)
    assert [r.memory.id for r in tie] == [2, 3]
    only_importance = RankingWeights(relevance=0, recency=0, importance=1)
    assert rank(memories, {}, now=NOW, weights=only_importance)[0].memory.id == 3


def test_bad_weights_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        RankingWeights(recency=-1)
    with pytest.raises(ValueError, match="dense or lexical"):
        RankingWeights(dense=0, lexical=0)


def test_importance_rates_facts_above_chatter() -> None:
    assert importance_of("lol") < importance_of("nice weather today, isn't it?")
    assert importance_of("nice weather today, isn't it?") < importance_of(
        "My daughter Ilse was born on 3 March, I promised to bring her to the festival."
    )
    assert importance_of("") == 0.0
    assert 0.0 <= importance_of("I " * 500) <= 1.0


def test_match_expressions_quote_every_telling_word() -> None:
    assert match_expression('Who is "Alva"? NEAR(x) OR *') == '"alva" OR "near" OR "x"'
    assert match_expression("Who is it?") == '"who" OR "is" OR "it"'
    assert match_expression("?!") == ""


def test_notes_are_one_fact_a_line() -> None:
    answer = (
        "1. Ann's sister Alva keeps bees.\n- Tom owes Mira two coins.\n\nok\n"
        "* Ann's sister Alva keeps bees.\n4) A fourth fact is here.\n5) And a fifth one."
    )
    assert parse_notes(answer) == [
        "Ann's sister Alva keeps bees.",
        "Tom owes Mira two coins.",
        "A fourth fact is here.",
    ]


def test_ages_read_naturally() -> None:
    assert describe_age(NOW, NOW) == "just now"
    assert describe_age(NOW - timedelta(minutes=5), NOW) == "5 minutes ago"
    assert describe_age(NOW - timedelta(hours=1), NOW) == "1 hour ago"
    assert describe_age(NOW - timedelta(days=1, hours=3), NOW) == "yesterday"
    assert describe_age(NOW - timedelta(days=15), NOW) == "2 weeks ago"
    assert describe_age(NOW - timedelta(days=400), NOW) == "1 year ago"


def test_memory_config_problems_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "memory": {
                    "share": "everywhere",
                    "recall": -1,
                    "weights": {"recency": "high", "dense": 0, "lexical": 0},
                    "embeddings": {"type": "openai"},
                    "chroma": {"host": "h", "path": "p", "port": 70000},
                    "colour": "red",
                }
            }
        )
    problems = str(caught.value)
    for expected in (
        "memory.share: expected channel or server",
        "memory.recall: expected a whole number 0..100",
        "memory.weights.recency: expected a number of 0 or more",
        "memory.weights: memory ranking needs dense or lexical weight above 0",
        "memory.embeddings.base_url: required for openai embeddings",
        "memory.embeddings.model: required for openai embeddings",
        "memory.chroma: give either path (embedded) or host (server), not both",
        "memory.chroma.port: expected a whole number 1..65535",
        "memory.colour: unknown setting",
    ):
        assert expected in problems
    settings = parse_config({"memory": {"share": "server", "weights": {"recency": 0.5}}}).memory
    assert settings.share == "server" and settings.weights.recency == 0.5


async def test_openai_embeddings_are_batched_ordered_and_normalised() -> None:
    async with OpenAIServer() as server:
        server.script(
            json_reply(
                200,
                {"data": [{"index": 1, "embedding": [0, 2]}, {"index": 0, "embedding": [3, 4]}]},
            ),
            json_reply(200, {"data": [{"index": 0, "embedding": [5, 0]}]}),
            error_reply(503, "loading model"),
            json_reply(200, {"data": [{"index": 0, "embedding": [1, 0]}]}),
            json_reply(200, {"nonsense": True}),
        )
        embedder = OpenAIEmbedder(
            base_url=server.base_url, model="e5", api_key="sk-secret-key-123", batch_size=2
        )
        try:
            vectors = await embedder.embed(["a", "b", "c"])
            assert np.allclose(vectors, [[0.6, 0.8], [0.0, 1.0], [1.0, 0.0]])
            assert [r.json()["input"] for r in server.requests] == [["a", "b"], ["c"]]
            assert server.requests[0].headers["authorization"] == "Bearer sk-secret-key-123"
            with pytest.raises(EmbeddingError, match="HTTP 503"):
                await embedder.embed(["x"])
            with pytest.raises(EmbeddingError, match="returned 1 vectors for 2 texts"):
                await embedder.embed(["x", "y"])
            with pytest.raises(EmbeddingError, match="malformed") as caught:
                await embedder.embed(["z"])
            assert "sk-secret" not in str(caught.value)
        finally:
            await embedder.aclose()
    assert embedder.name == "openai:e5"
