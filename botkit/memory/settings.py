"""Memory's settings, as the config file gives them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botkit.memory.ranking import RankingWeights

__all__ = ["MemorySettings"]


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """How memory is scoped and ranked, and how much of it a prompt gets."""

    enabled: bool = True
    share: str = "channel"
    """``channel``: a character recalls what it witnessed in this channel; ``server``: in
    any channel of this server. Never across servers."""
    recall: int = 6
    """Memories offered to a prompt (it keeps as many as fit its budget)."""
    candidates: int = 40
    """Candidates taken from each of the dense and lexical rankings."""
    min_similarity: float = 0.2
    """Dense candidates less similar than this count only if their words also match."""
    weights: RankingWeights = field(default_factory=RankingWeights)
    notes_every: int = 0
    """After this many turns in a channel, the backend writes notes on them (0: never)."""
    flush_seconds: float = 30.0
    """How long closing waits for pending writes before leaving them for the next start."""
    embeddings: Mapping[str, Any] = field(default_factory=lambda: {"type": "local"})
    """``{type: local}`` (the bundled MiniLM) or ``{type: openai, base_url, model, ...}``."""
    chroma: Mapping[str, Any] = field(default_factory=dict)
    """Empty for the embedded index under the data folder; ``{path}`` elsewhere on disk;
    ``{host, port, ssl}`` for a Chroma server."""
