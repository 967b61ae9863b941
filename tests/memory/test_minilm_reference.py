"""The MiniLM encoder keeps producing the reference vectors, whatever the batching.

tests/memory/data/minilm_reference.{json,npy} hold 40 sentences (one-word replies, empty
and blank strings, emoji, eight scripts, code, URLs, and two texts far past the 256-token
cut) and their vectors as the original encoder computed them one at a time.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from botkit.memory.embeddings import LocalEmbedder
from botkit.memory.minilm import MiniLMEncoder

DATA = Path(__file__).parent / "data"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    sentences = json.loads((DATA / "minilm_reference.json").read_text(encoding="utf-8"))
    vectors = np.load(DATA / "minilm_reference.npy")
    assert vectors.shape == (len(sentences["sentences"]), 384)
    return list(sentences["sentences"]), vectors


@pytest.mark.parametrize("batch_size", [1, 3, 7, 16, 32, 64, 512])
def test_vectors_match_the_reference_in_every_batch_size(
    encoder: MiniLMEncoder, reference: tuple[list[str], np.ndarray], batch_size: int
) -> None:
    sentences, expected = reference
    found = encoder.encode(sentences, batch_size=batch_size)
    assert found.dtype == np.float32
    assert found.shape == expected.shape
    assert float(np.abs(found - expected).max()) <= TOLERANCE


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectors_match_the_reference_in_any_order_and_mix(
    encoder: MiniLMEncoder, reference: tuple[list[str], np.ndarray], seed: int
) -> None:
    sentences, expected = reference
    shuffle = random.Random(seed)
    order = [i for i in range(len(sentences)) for _ in range(shuffle.randint(1, 2))]
    shuffle.shuffle(order)
    found = encoder.encode([sentences[i] for i in order], batch_size=shuffle.choice([4, 9, 32]))
    assert float(np.abs(found - expected[order]).max()) <= TOLERANCE


def test_each_sentence_alone_matches_the_reference(
    encoder: MiniLMEncoder, reference: tuple[list[str], np.ndarray]
) -> None:
    sentences, expected = reference
    for sentence, vector in zip(sentences, expected, strict=True):
        assert float(np.abs(encoder.encode([sentence])[0] - vector).max()) <= TOLERANCE


async def test_the_indexing_path_gives_the_reference_vectors_in_order(
    encoder: MiniLMEncoder, reference: tuple[list[str], np.ndarray]
) -> None:
    sentences, expected = reference
    order = [i for _ in range(3) for i in range(len(sentences))]
    random.Random(4).shuffle(order)
    embedder = LocalEmbedder(encoder=encoder, threads=2)
    try:
        found = await embedder.embed_backlog([sentences[i] for i in order])
    finally:
        await embedder.aclose()
    assert float(np.abs(found - expected[order]).max()) <= TOLERANCE
