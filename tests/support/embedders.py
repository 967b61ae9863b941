"""An embedder for tests that says which texts it embedded, and by which way."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

from botkit.memory.embeddings import EmbeddingError, Vectors


def unit_vectors(texts: Sequence[str]) -> Vectors:
    """A fixed pseudo-random unit vector per text."""
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        row = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
        rows.append(row / np.linalg.norm(row))
    return np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32)


class CountingEmbedder:
    """Embeds instantly and counts each text embedded, by the way it came in.

    ``failing_backlog``: the indexing way raises EmbeddingError (queries still work).
    """

    name = "counting"

    def __init__(self, *, failing_backlog: bool = False) -> None:
        self.queries: Counter[str] = Counter()
        self.backlog: Counter[str] = Counter()
        self._failing_backlog = failing_backlog

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.queries.update(texts)
        return unit_vectors(texts)

    async def embed_backlog(self, texts: Sequence[str]) -> Vectors:
        if self._failing_backlog:
            raise EmbeddingError("the model is gone")
        self.backlog.update(texts)
        return unit_vectors(texts)

    async def aclose(self) -> None:
        pass
