"""What each channel's memories could offer a recall, known without asking the database.

A character's recall leaves out the memories of the turns its prompt shows already: the
channel's turns since the oldest one in the prompt. When the scope holds nothing else (a
new channel, or one whose remembered turns are all in the prompt, and no notes), the
recall would find nothing, and can be skipped outright: no query embedding, no search.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from botkit.events import ChannelKey
from botkit.memory.records import Scope

__all__ = ["Holdings"]


class Holdings:
    """Per channel: the time of its oldest turn memory, and whether it holds a note.

    Kept up to date as memories are written (before each write, so a recall never misses
    one). Forgetting leaves it as it was until the next start, so it may promise more
    than the database holds, never less: a recall skipped by it would have found nothing.
    """

    def __init__(self) -> None:
        self._oldest_turn: dict[ChannelKey, datetime] = {}
        self._with_notes: set[ChannelKey] = set()
        self._channels: dict[str, set[ChannelKey]] = {}
        """The channels holding memories, by server (``platform:server``)."""

    def add_turn(self, channel: ChannelKey, time: datetime) -> None:
        """Count a memory of a turn said in ``channel`` at ``time``."""
        self._in_server(channel).add(channel)
        oldest = self._oldest_turn.get(channel)
        if oldest is None or time < oldest:
            self._oldest_turn[channel] = time

    def add_note(self, channel: ChannelKey) -> None:
        """Count a note about ``channel``."""
        self._in_server(channel).add(channel)
        self._with_notes.add(channel)

    def _in_server(self, channel: ChannelKey) -> set[ChannelKey]:
        return self._channels.setdefault(f"{channel.platform}:{channel.server}", set())

    def holds_any(self, scope: Scope) -> bool:
        """Whether ``scope`` may hold any memory at all."""
        channels = self._channels.get(scope.server_key, set())
        return scope.channel in channels if scope.channel is not None else bool(channels)

    def may_offer(self, scope: Scope, *, shown_in: ChannelKey, shown_since: datetime) -> bool:
        """Whether ``scope`` may hold any memory other than the turns of ``shown_in`` said
        at ``shown_since`` or later (those a prompt already shows)."""
        if scope.channel is not None:
            channels: Iterable[ChannelKey] = (scope.channel,)
        else:
            channels = self._channels.get(scope.server_key, ())
        for channel in channels:
            if channel in self._with_notes:
                return True
            oldest = self._oldest_turn.get(channel)
            if oldest is not None and (channel != shown_in or oldest < shown_since):
                return True
        return False
