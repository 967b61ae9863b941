"""What the web playground may ask of botkit's core besides what every adapter gets:
the characters, a channel's cast and history, and the trace of why each character spoke."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from botkit.characters.model import Character
from botkit.events import ChannelKey
from botkit.memory.records import Memory
from botkit.trace import TraceLog
from botkit.transcript import Turn

__all__ = ["PlaygroundHost"]


class PlaygroundHost(Protocol):
    """The core as the playground page sees it (read-only: changes go through commands)."""

    @property
    def traces(self) -> TraceLog | None:
        """Why each character spoke, where the core records it."""
        ...

    def all_characters(self) -> Sequence[Character]:
        """Every character the packs offer."""
        ...

    async def cast_ids(self, channel: ChannelKey) -> list[str]:
        """The ids of ``channel``'s cast, in order."""
        ...

    @property
    def policy_names(self) -> Sequence[str]:
        """The turn-taking policies a channel may choose."""
        ...

    async def room_settings(self, channel: ChannelKey) -> tuple[str, str, frozenset[str]]:
        """``channel``'s policy, scene and muted characters."""
        ...

    async def history(self, channel: ChannelKey, limit: int) -> list[Turn]:
        """``channel``'s last ``limit`` turns, oldest first."""
        ...

    def character_file(self, character_id: str) -> Path | None:
        """The YAML file a character was loaded from, if it has one."""
        ...

    def may_edit(self, character_id: str) -> bool:
        """Whether saving ``character_id`` changes its own file (a character of the
        imported pack); other characters are saved there as copies."""
        ...

    async def save_character(self, text: str) -> str:
        """Check ``text`` (a character's YAML) as ``botkit characters check`` does, write it
        to the imported pack and load it; its id.

        Raises:
            ValueError: what is wrong, one ``file:line: field: problem`` line each.
        """
        ...

    async def memories(
        self, channel: ChannelKey, query: str, limit: int
    ) -> list[tuple[Memory, float | None]]:
        """What is remembered where ``channel``'s characters recall (the channel, or its
        server): the best matches for ``query`` with their scores, or the newest.

        Raises:
            ValueError: long-term memory is off.
        """
        ...

    async def forget_memory(self, channel: ChannelKey, memory_id: int) -> int:
        """Forget one memory of ``channel``'s server (needs the manage permission, as
        ``/forget`` does); how many memories went.

        Raises:
            ValueError: long-term memory is off.
        """
        ...

    async def import_card(self, data: bytes, filename: str) -> str:
        """Make a character of the Character Card in ``data`` (PNG, JSON or CHARX, checked
        as ``botkit characters import`` checks it) and load it; its id.

        Raises:
            ValueError: the file holds no card, or not a valid character (one line each).
        """
        ...
