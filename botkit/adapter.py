"""The contract between botkit's core and a platform adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from botkit.events import ChannelKey, CommandEvent, Event, Identity
from botkit.plugin import Command

__all__ = [
    "MAX_MESSAGE_CHARS",
    "Adapter",
    "AdapterContext",
    "AdapterFactory",
    "Capabilities",
    "EventSink",
]

EventSink = Callable[[Event], Awaitable[None]]
"""Where an adapter hands every event it receives; returns once the event is safely queued."""
MAX_MESSAGE_CHARS = 40_000
"""The longest message text an adapter hands in. Platforms cap theirs at or below this
(Discord 2,000, Telegram 4,096, Slack 40,000); input with no limit of its own, such as
the console, refuses longer lines with a notice."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a platform can show: per-message identities, streamed edits, message length."""

    personas: bool
    streaming: bool
    max_text_len: int


@runtime_checkable
class Adapter(Protocol):
    """Translates one platform's events into botkit events and sends replies back.

    Adapters know nothing of characters, prompts or memory beyond the identity they are
    told to post as.
    """

    name: str
    capabilities: Capabilities

    async def start(self, sink: EventSink, commands: Sequence[Command] = ()) -> None:
        """Connect and begin handing events to ``sink``; returns once receiving.

        ``commands`` are the commands to offer in the platform's menu, if it has one.
        """
        ...

    async def wait_closed(self) -> None:
        """Return when the adapter will deliver no more events (end of input, stopped)."""
        ...

    async def stop(self) -> None:
        """Disconnect and release resources."""
        ...

    async def send_reply(
        self,
        *,
        channel: ChannelKey,
        identity: Identity,
        fragments: AsyncIterator[str],
        reply_to: str | None = None,
    ) -> str | None:
        """Post a streamed reply as ``identity``; returns the platform message id.

        Returns None when nothing was posted (the stream produced no text).
        """
        ...

    async def send_notice(
        self, *, channel: ChannelKey, text: str, command: CommandEvent | None = None
    ) -> None:
        """Post a system message (a command's answer or an error) outside any character.

        Every command gets exactly one call, with empty ``text`` when the command's effect
        speaks for itself: post nothing then, but finish whatever the command left open.
        """
        ...


def _no_names() -> Sequence[str]:
    return ()


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """What botkit gives an adapter factory besides the adapter's own config section.

    ``character_names`` lists the names a command may name (for autocompletion).
    """

    data_dir: Path
    wait_idle: Callable[[], Awaitable[None]]
    character_names: Callable[[], Sequence[str]] = _no_names


AdapterFactory = Callable[[Mapping[str, Any], AdapterContext], Adapter]
"""Builds an adapter from its config section; registered under the ``botkit.adapters``
entry-point group."""
