"""Finding ``retrievable`` lore entries by meaning, with the memory's sentence embedder.

A character's retrievable entries are embedded once (the vectors are kept by text) and
compared with the last turns by cosine similarity; the closest above a threshold join
the lore the prompt carries, even when no key was mentioned.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np

from botkit.characters.model import Character
from botkit.lore.macros import expand_macros
from botkit.lore.model import LoreEntry
from botkit.memory.embeddings import BacklogEmbedder, Embedder, EmbeddingError, Vectors

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

    async def prepare(self, characters: Iterable[Character]) -> int:
        """Embed the retrievable entries of ``characters`` ahead of their first search, on
        the embedder's background way where it has one; returns how many were embedded.

        A failing embedder is logged at debug level: the first search embeds them then.
        """
        texts = [
            text
            for character in characters
            for _, text in _retrievable(character)
            if text not in self._vectors
        ]
        missing = list(dict.fromkeys(texts))[: self._max_cached]
        if not missing:
            return 0
        embedder = self._embedder
        try:
            if isinstance(embedder, BacklogEmbedder):
                vectors = await embedder.embed_backlog(missing)
            else:
                vectors = await embedder.embed(missing)
        except EmbeddingError as error:
            log.debug("lore: entries not embedded ahead: %s", error)
            return 0
        for text, vector in zip(missing, vectors, strict=True):
            self._vectors[text] = vector
        self._trim()
        return len(missing)

    async def find(self, character: Character, query: str) -> list[LoreEntry]:
        """``character``'s retrievable entries that bear on ``query``, best first."""
        found = _retrievable(character)
        if not found or not query.strip():
            return []
        candidates = [entry for entry, _ in found]
        texts = [text for _, text in found]
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
        self._trim()
        matrix = np.stack([self._vectors[text] for text in texts])
        scores = matrix @ vectors[0]
        best = sorted(range(len(candidates)), key=lambda i: (-float(scores[i]), i))
        return [candidates[i] for i in best if scores[i] >= self._threshold][: self._limit]

    def _trim(self) -> None:
        """Drop the least recently used vectors beyond ``max_cached``."""
        while len(self._vectors) > self._max_cached:
            self._vectors.popitem(last=False)


def _retrievable(character: Character) -> list[tuple[LoreEntry, str]]:
    """``character``'s entries that may be found by meaning, each with the text searched."""
    return [
        (entry, expand_macros(entry.content, char=character.name))
        for book in character.lorebooks
        for entry in book.entries
        if entry.retrievable and entry.enabled and entry.content.strip()
    ]
