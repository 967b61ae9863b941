"""The contract between botkit's core and a platform adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from botkit.events import ChannelKey, CommandEvent, Event, Identity
from botkit.playground import PlaygroundHost
from botkit.plugin import Command

__all__ = [
    "MAX_MESSAGE_CHARS",
    "Adapter",
    "AdapterContext",
    "AdapterFactory",
    "Capabilities",
    "EventSink",
    "PostedReply",
    "ReplyLookup",
    "StreamingAdapter",
    "TypingAdapter",
]

EventSink = Callable[[Event], Awaitable[None]]
"""Where an adapter hands every event it receives; returns once the event is safely queued."""
MAX_MESSAGE_CHARS = 40_000
"""The longest message text an adapter hands in. Platforms cap theirs at or below this
(Discord 2,000, Telegram 4,096, Slack 40,000); input with no limit of its own, such as
the console, refuses longer lines with a notice."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a platform can show, so the core knows how to hand it a reply.

    ``personas``: each character posts under its own name and avatar (otherwise the
    adapter may put "Name:" before the text, and the core leaves room for it).
    ``traces``: the platform shows why each character spoke, so the core records it.
    ``streaming``: the reply is shown as it is written (:class:`StreamingAdapter`);
    otherwise the core collects it and posts it whole, in pieces of at most
    ``max_text_len`` characters. ``typing``: the platform shows a typing indicator
    (:class:`TypingAdapter`), which the core keeps up while a reply is written.
    """

    personas: bool
    streaming: bool
    max_text_len: int
    typing: bool = False
    traces: bool = False


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

    async def post_reply(
        self, *, channel: ChannelKey, identity: Identity, text: str, reply_to: str | None = None
    ) -> str | None:
        """Post one message of a reply as ``identity``; returns the platform message id.

        ``text`` fits the declared ``max_text_len`` (less the name, without personas).
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


@runtime_checkable
class TypingAdapter(Adapter, Protocol):
    """An adapter that can show a typing indicator (it declares ``typing``)."""

    async def show_typing(self, *, channel: ChannelKey, identity: Identity) -> None:
        """Show that ``identity`` is writing; a failure costs only the indicator."""
        ...


@runtime_checkable
class StreamingAdapter(Adapter, Protocol):
    """An adapter that shows a reply as it is written (it declares ``streaming``)."""

    async def stream_reply(
        self,
        *,
        channel: ChannelKey,
        identity: Identity,
        fragments: AsyncIterator[str],
        reply_to: str | None = None,
    ) -> str | None:
        """Show the reply as its fragments arrive; returns the platform message id of its
        last message, or None when the fragments held no text."""
        ...


@dataclass(frozen=True, slots=True)
class PostedReply:
    """A character's reply as the platform shows it: its (last) message id and its text."""

    message_id: str
    text: str


@runtime_checkable
class ReplyLookup(Adapter, Protocol):
    """An adapter that can find a character's reply on the platform after the fact.

    A process can die between posting a reply and recording it; the process that resumes
    the message asks before answering again, so the message is not answered twice.
    """

    async def find_reply(
        self, *, channel: ChannelKey, reply_to: str, character_id: str
    ) -> PostedReply | None:
        """The reply ``character_id`` posted to message ``reply_to``, if there is one."""
        ...


def _no_names() -> Sequence[str]:
    return ()


async def _always(_name: str) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """What botkit gives an adapter factory besides the adapter's own config section.

    ``character_names`` lists the names a command may name (for autocompletion).
    ``receiver(name)`` tells whether this process is the one to receive under ``name``
    now, for a platform that lets only one connection receive at a time (Telegram's
    polling): where several processes share the store, one process at a time holds
    ``name``'s lease; a single process always is. ``host`` is the core as the web
    playground reads it.
    """

    data_dir: Path
    wait_idle: Callable[[], Awaitable[None]]
    character_names: Callable[[], Sequence[str]] = _no_names
    receiver: Callable[[str], Awaitable[bool]] = _always
    host: PlaygroundHost | None = None


AdapterFactory = Callable[[Mapping[str, Any], AdapterContext], Adapter]
"""Builds an adapter from its config section; registered under the ``botkit.adapters``
entry-point group."""
