"""Helpers for testing code built on botkit without a model or a platform.

``InstantBackend`` answers at once with scripted text; ``RecordingAdapter`` records what
the core posts and lets a test push events in as a platform would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from botkit.adapter import Capabilities, EventSink
from botkit.backends.base import ChatRequest
from botkit.events import ChannelKey, CommandEvent, Event, Identity
from botkit.plugin import Command
from botkit.tokens import TokenCounter, default_token_counter

__all__ = ["InstantBackend", "RecordingAdapter", "SentReply"]

Script = Callable[[ChatRequest], str]


class InstantBackend:
    """A backend that replies immediately with ``script(request)`` (default: a fixed line).

    ``requests`` keeps every request it was sent, so tests can inspect prompts.
    """

    def __init__(
        self,
        script: Script | str = "Hello there.",
        *,
        name: str = "instant",
        context_window: int = 4096,
        delay: float = 0.0,
        counter: TokenCounter | None = None,
    ) -> None:
        self.name = name
        self._script: Script = script if callable(script) else (lambda _request: script)
        self._context_window = context_window
        self._delay = delay
        self._counter = counter
        self.requests: list[ChatRequest] = []

    @property
    def context_window(self) -> int:
        """Tokens the pretend model accepts."""
        return self._context_window

    @property
    def token_counter(self) -> TokenCounter:
        """The offline tiktoken counter (or the one given)."""
        return self._counter or default_token_counter()

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Yield the scripted reply word by word, after ``delay`` seconds."""
        self.requests.append(request)
        if self._delay:
            await asyncio.sleep(self._delay)
        for word in self._script(request).split(" "):
            yield word + " "

    async def aclose(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True, slots=True)
class SentReply:
    """A reply the core posted through a :class:`RecordingAdapter`."""

    channel: ChannelKey
    identity: Identity
    text: str
    message_id: str
    reply_to: str | None


class RecordingAdapter:
    """An adapter for tests: ``push`` events in, read ``replies`` and ``notices`` out."""

    capabilities = Capabilities(personas=True, streaming=False, max_text_len=100_000)

    def __init__(self, name: str = "test") -> None:
        self.name = name
        self.replies: list[SentReply] = []
        self.notices: list[tuple[ChannelKey, str]] = []
        self._sink: EventSink | None = None
        self._closed = asyncio.Event()
        self._ids = 0

    async def start(self, sink: EventSink, commands: Sequence[Command] = ()) -> None:
        """Remember where to push events (a test adapter has no command menu)."""
        self._sink = sink

    async def push(self, event: Event) -> None:
        """Deliver ``event`` as the platform would."""
        if self._sink is None:
            raise RuntimeError("the adapter is not started")
        await self._sink(event)

    async def wait_closed(self) -> None:
        """Return once :meth:`stop` was called."""
        await self._closed.wait()

    async def stop(self) -> None:
        """Deliver no more events."""
        self._closed.set()

    async def post_reply(
        self, *, channel: ChannelKey, identity: Identity, text: str, reply_to: str | None = None
    ) -> str | None:
        """Record the reply the core collected."""
        self._ids += 1
        message_id = f"{self.name}-{self._ids}"
        self.replies.append(SentReply(channel, identity, text, message_id, reply_to))
        return message_id

    async def send_notice(
        self, *, channel: ChannelKey, text: str, command: CommandEvent | None = None
    ) -> None:
        """Record a system message (commands with nothing to say send none)."""
        if text:
            self.notices.append((channel, text))
