"""A channel's recorded turns, as the scheduler and prompt see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Turn"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One line of a conversation: who said what, and when.

    ``speaker_id`` is the platform author id for humans and the character id for characters.
    """

    speaker_id: str
    speaker_name: str
    text: str
    is_character: bool
    time: datetime
    message_id: str | None = None
    reply_to: str | None = None
