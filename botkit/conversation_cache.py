"""The channels' conversations kept open, the least recently used dropped first."""

from __future__ import annotations

from collections import OrderedDict

from botkit.conversation import Conversation
from botkit.events import ChannelKey

__all__ = ["ConversationCache"]


class ConversationCache:
    """At most ``limit`` open conversations; a dropped one is loaded again when needed."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: OrderedDict[ChannelKey, Conversation] = OrderedDict()

    def use(self, channel: ChannelKey) -> Conversation | None:
        """The open conversation of ``channel``, now the most recently used."""
        conversation = self._open.get(channel)
        if conversation is not None:
            self._open.move_to_end(channel)
        return conversation

    def peek(self, channel: ChannelKey) -> Conversation | None:
        """The open conversation of ``channel``, leaving the order as it is."""
        return self._open.get(channel)

    def add(self, conversation: Conversation) -> None:
        """Keep ``conversation`` open, dropping the least recently used beyond the limit."""
        self._open[conversation.channel] = conversation
        if len(self._open) > self._limit:
            self._open.popitem(last=False)

    def on_server(self, platform: str, server: str) -> list[Conversation]:
        """The open conversations of one server."""
        return [
            c for key, c in self._open.items() if (key.platform, key.server) == (platform, server)
        ]

    def drop(self, channel: ChannelKey) -> None:
        """Drop the open conversation of ``channel``, if any (another process changed it)."""
        self._open.pop(channel, None)

    def clear(self) -> None:
        """Drop every open conversation (after the characters changed)."""
        self._open.clear()
