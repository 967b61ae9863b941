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
    recall_budget_ms: float = 300.0
    """The longest a reply waits for its recall (and for its lore found by meaning); a
    slower one is skipped for that turn."""
    candidates: int = 40
    """Candidates taken from each of the dense and lexical rankings."""
    min_similarity: float = 0.2
    """Dense candidates less similar than this count only if their words also match."""
    weights: RankingWeights = field(default_factory=RankingWeights)
    observations: str = "auto"
    """``on``: once a channel's session has ended, the backend writes observations on it,
    linked to the turns they came from, and recalling one brings those turns along;
    ``off``: never; ``auto``: on unless the backend is the embedded llama.cpp one (see
    :meth:`observes`)."""
    observe_quiet_minutes: float = 30.0
    """A channel's session has ended once no turn came for this long."""
    observe_every: int = 40
    """A session still going after this many turns is observed in parts this long."""
    flush_seconds: float = 30.0
    """How long closing waits for pending writes before leaving them for the next start."""
    embeddings: Mapping[str, Any] = field(default_factory=lambda: {"type": "local"})
    """``{type: local}`` (the bundled MiniLM) or ``{type: openai, base_url, model, ...}``."""
    chroma: Mapping[str, Any] = field(default_factory=dict)
    """Empty for the embedded index under the data folder; ``{path}`` elsewhere on disk;
    ``{host, port, ssl}`` for a Chroma server."""

    def observes(self, *, embedded: bool) -> bool:
        """Whether the backend writes observations; ``embedded``: it is the embedded
        llama.cpp backend, whose observations ``auto`` leaves out (SmolLM2-135M's mostly
        restate one line or invent facts), while a server model's are worth keeping."""
        if self.observations == "auto":
            return not embedded
        return self.observations == "on"
