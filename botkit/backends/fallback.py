"""A chain of backends that answers with the first one able to start a reply."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from botkit.backends.base import (
    BackendError,
    ChatBackend,
    ChatMessage,
    ChatRequest,
    ContinuationRequest,
    ContinuationScorer,
    PromptLimited,
    PromptLimits,
    PromptPreparer,
)
from botkit.tokens import TokenCounter

__all__ = ["FallbackBackend"]

log = logging.getLogger(__name__)


class FallbackBackend:
    """Streams from the first backend of a chain; one that fails before any text is skipped.

    Once a backend has yielded text, its errors propagate: a half-sent reply is never
    silently restarted elsewhere. The context window is the smallest in the chain, so a
    prompt built for the chain fits whichever backend ends up answering; tokens are counted
    the first backend's way, and the prompt is shaped to the first backend's limits and
    read ahead by it, as the one that normally answers.

    Continuations are scored by the first backend in the chain that can score them; one
    that fails is skipped the same way.
    """

    def __init__(self, *, name: str, backends: Sequence[ChatBackend]) -> None:
        if not backends:
            raise ValueError(f"fallback backend {name!r} needs at least one backend")
        self.name = name
        self._backends = tuple(backends)

    @property
    def backends(self) -> tuple[ChatBackend, ...]:
        """The chain, in the order it is tried."""
        return self._backends

    @property
    def context_window(self) -> int:
        """The smallest context window in the chain."""
        return min(backend.context_window for backend in self._backends)

    @property
    def token_counter(self) -> TokenCounter:
        """The first backend's token counter."""
        return self._backends[0].token_counter

    @property
    def prompt_limits(self) -> PromptLimits:
        """The first backend's prompt limits (none, where it declares none)."""
        first = self._backends[0]
        return first.prompt_limits if isinstance(first, PromptLimited) else PromptLimits()

    async def prepare(self, messages: Sequence[ChatMessage]) -> int:
        """Let the first backend read ``messages`` ahead, where it can; tokens read."""
        first = self._backends[0]
        return await first.prepare(messages) if isinstance(first, PromptPreparer) else 0

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Generate a reply with the first backend that can start one."""
        last = len(self._backends) - 1
        for index, backend in enumerate(self._backends):
            yielded = False
            fragments = backend.stream(request)
            try:
                async for fragment in fragments:
                    yielded = True
                    yield fragment
                return
            except BackendError as error:
                if yielded:
                    raise
                if index == last:
                    raise type(error)(
                        f"backend {self.name!r}: all {len(self._backends)} backends in the "
                        f"chain failed, the last with: {error}"
                    ) from error
                log.warning(
                    "backend %r: %s; trying %r next",
                    self.name,
                    error,
                    self._backends[index + 1].name,
                )
            finally:
                if isinstance(fragments, AsyncGenerator):
                    await fragments.aclose()

    async def score_continuations(self, request: ContinuationRequest) -> tuple[float, ...]:
        """Score with the first backend of the chain that can, skipping those that fail.

        Raises:
            BackendError: no backend in the chain scores continuations, or all that do failed.
        """
        scorers = [b for b in self._backends if isinstance(b, ContinuationScorer)]
        if not scorers:
            raise BackendError(
                f"backend {self.name!r}: no backend in the chain scores continuations"
            )
        for index, scorer in enumerate(scorers[:-1]):
            try:
                return await scorer.score_continuations(request)
            except BackendError as error:
                log.warning(
                    "backend %r: %s; scoring with %r next",
                    self.name,
                    error,
                    scorers[index + 1].name,
                )
        try:
            return await scorers[-1].score_continuations(request)
        except BackendError as error:
            raise type(error)(
                f"backend {self.name!r}: all {len(scorers)} scoring backends in the chain "
                f"failed, the last with: {error}"
            ) from error

    async def aclose(self) -> None:
        """Close every backend in the chain (each must tolerate being closed twice)."""
        await asyncio.gather(*(backend.aclose() for backend in self._backends))
