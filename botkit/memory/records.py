"""What a memory is, and the scope a recall or a forget is limited to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from botkit.events import ChannelKey

__all__ = ["Memory", "MemoryKind", "Recollection", "Scope"]

MemoryKind = Literal["turn", "note"]


@dataclass(frozen=True, slots=True)
class Memory:
    """One remembered thing: a line said in a channel, or a note (an observation) drawn
    from several lines.

    ``witnesses`` are the ids of the characters present when it was said; only they can
    recall it.
    """

    id: int
    kind: MemoryKind
    channel: ChannelKey
    speaker_id: str
    speaker_name: str
    text: str
    time: datetime
    importance: float
    witnesses: frozenset[str]
    turn_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a recall may look: one server always, optionally one channel, one witness.

    ``channel`` None means every channel of the server; ``character`` None means every
    witness (operator tools and forgetting only; characters always recall as themselves).
    """

    platform: str
    server: str
    channel: ChannelKey | None = None
    character: str | None = None

    @property
    def server_key(self) -> str:
        """The server as one string, ``platform:server``."""
        return f"{self.platform}:{self.server}"

    @classmethod
    def of(cls, channel: ChannelKey, *, character: str | None, whole_server: bool) -> Scope:
        """The scope of ``character`` speaking in ``channel``."""
        return cls(channel.platform, channel.server, None if whole_server else channel, character)


@dataclass(frozen=True, slots=True)
class Recollection:
    """A memory chosen for a recall, with the parts of its score (each 0..1).

    ``via`` is the id of the observation (a note) whose source this memory is, when it
    was recalled for that observation's sake; it then carries the observation's scores.
    """

    memory: Memory
    score: float
    relevance: float
    recency: float
    importance: float
    via: int | None = None
