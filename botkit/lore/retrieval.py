"""Finding ``retrievable`` lore entries by meaning, with the memory's sentence embedder.

A character's retrievable entries are embedded once (the vectors are kept by text) and
compared with the last turns by cosine similarity; the closest above a threshold join
the lore the prompt carries, even when no key was mentioned.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import numpy as np

from botkit.characters.model import Character
from botkit.lore.macros import expand_macros
from botkit.lore.model import LoreEntry
from botkit.memory.embeddings import Embedder, EmbeddingError, Vectors

__all__ = ["DEFAULT_THRESHOLD", "LoreRetriever"]

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.3
"""The least cosine similarity (all-MiniLM-L6-v2) at which an entry counts as relevant."""


class LoreRetriever:
    """Picks a character's ``retrievable`` lore entries that are closest in meaning to a query.

    At most ``limit`` entries come back, best first, each at least ``threshold`` similar.
    Entry vectors are cached (the ``max_cached`` most recent texts); a failing embedder
    is logged and finds nothing, so a reply is never held up by it.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        limit: int = 3,
        max_cached: int = 4096,
    ) -> None:
        self._embedder = embedder
        self._threshold = threshold
        self._limit = limit
        self._max_cached = max_cached
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()

    async def find(self, character: Character, query: str) -> list[LoreEntry]:
        """``character``'s retrievable entries that bear on ``query``, best first."""
        candidates = [
            entry
            for book in character.lorebooks
            for entry in book.entries
            if entry.retrievable and entry.enabled and entry.content.strip()
        ]
        if not candidates or not query.strip():
            return []
        texts = [expand_macros(entry.content, char=character.name) for entry in candidates]
        missing = list(dict.fromkeys(text for text in texts if text not in self._vectors))
        try:
            vectors = await self._embedder.embed([query, *missing])
        except EmbeddingError as error:
            log.warning("lore: cannot search lore by meaning: %s", error)
            return []
        for text, vector in zip(missing, vectors[1:], strict=True):
            self._vectors[text] = vector
        for text in texts:
            self._vectors.move_to_end(text)
        while len(self._vectors) > self._max_cached:
            self._vectors.popitem(last=False)
        matrix = np.stack([self._vectors[text] for text in texts])
        scores = matrix @ vectors[0]
        best = sorted(range(len(candidates)), key=lambda i: (-float(scores[i]), i))
        return [candidates[i] for i in best if scores[i] >= self._threshold][: self._limit]
