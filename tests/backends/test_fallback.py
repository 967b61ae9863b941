"""The fallback chain: the next backend answers when one fails before any text."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

import httpx
import pytest

from botkit.backends.base import (
    BackendAuthError,
    BackendError,
    BackendUnavailable,
    ChatBackend,
    ChatMessage,
    ChatRequest,
    PromptLimits,
)
from botkit.backends.fallback import FallbackBackend
from botkit.backends.openai_compat import OpenAICompatBackend
from botkit.tokens import CallableTokenCounter, TokenCounter
from tests.support.openai_server import (
    Drop,
    OpenAIServer,
    Reply,
    chat_chunk,
    error_reply,
    event,
    sse_reply,
)

REQUEST = ChatRequest((ChatMessage("user", "Ann: Hello!"),))


class ScriptedBackend:
    """A backend that yields ``fragments`` and then raises ``error``, if given."""

    def __init__(
        self,
        name: str,
        fragments: Sequence[str] = (),
        error: Exception | None = None,
        *,
        context_window: int = 4096,
    ) -> None:
        self.name = name
        self._fragments = fragments
        self._error = error
        self._context_window = context_window
        self._counter = CallableTokenCounter(lambda text: [0] * len(text))
        self.calls = 0
        self.finished = asyncio.Event()
        self.closed = False

    @property
    def context_window(self) -> int:
        """Tokens the pretend model accepts."""
        return self._context_window

    @property
    def token_counter(self) -> TokenCounter:
        """One token per character."""
        return self._counter

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Yield the scripted fragments, then raise the scripted error."""
        self.calls += 1
        try:
            for fragment in self._fragments:
                yield fragment
            if self._error is not None:
                raise self._error
        finally:
            self.finished.set()

    async def aclose(self) -> None:
        """Remember that it was closed."""
        self.closed = True


async def collect(backend: ChatBackend, fragments: list[str] | None = None) -> list[str]:
    """Every fragment of one reply (into ``fragments`` too, to see text before an error)."""
    got = fragments if fragments is not None else []
    async for fragment in backend.stream(REQUEST):
        got.append(fragment)
    return got


async def test_the_first_backend_answers_when_it_can() -> None:
    first = ScriptedBackend("vllm", ["Hello", " there"])
    second = ScriptedBackend("local", ["unused"])
    chain = FallbackBackend(name="chat", backends=[first, second])

    assert await collect(chain) == ["Hello", " there"]
    assert second.calls == 0


async def test_a_failure_before_any_text_falls_back_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = ScriptedBackend("vllm", error=BackendUnavailable("backend 'vllm': HTTP 503"))
    second = ScriptedBackend("local", ["From", " local"])
    chain = FallbackBackend(name="chat", backends=[first, second])

    with caplog.at_level(logging.WARNING, logger="botkit.backends.fallback"):
        assert await collect(chain) == ["From", " local"]
    [record] = caplog.records
    assert record.getMessage() == "backend 'chat': backend 'vllm': HTTP 503; trying 'local' next"


async def test_a_failure_after_text_propagates_without_fallback() -> None:
    error = BackendUnavailable("backend 'vllm': lost the connection (mid-reply)")
    first = ScriptedBackend("vllm", ["Half a"], error)
    second = ScriptedBackend("local", ["unused"])
    chain = FallbackBackend(name="chat", backends=[first, second])
    fragments: list[str] = []

    with pytest.raises(BackendUnavailable) as caught:
        await collect(chain, fragments)
    assert caught.value is error
    assert fragments == ["Half a"]
    assert second.calls == 0


async def test_when_all_fail_the_last_error_is_raised_for_the_chain() -> None:
    last = BackendUnavailable("backend 'local': the model file is missing")
    first = ScriptedBackend("vllm", error=BackendAuthError("backend 'vllm': refused"))
    second = ScriptedBackend("local", error=last)
    chain = FallbackBackend(name="chat", backends=[first, second])

    with pytest.raises(BackendUnavailable) as caught:
        await collect(chain)
    assert str(caught.value) == (
        "backend 'chat': all 2 backends in the chain failed, "
        "the last with: backend 'local': the model file is missing"
    )
    assert caught.value.__cause__ is last


async def test_errors_that_are_not_backend_errors_are_not_hidden() -> None:
    first = ScriptedBackend("vllm", error=RuntimeError("a bug"))
    second = ScriptedBackend("local", ["unused"])
    chain = FallbackBackend(name="chat", backends=[first, second])

    with pytest.raises(RuntimeError, match="a bug"):
        await collect(chain)
    assert second.calls == 0


async def test_closing_the_chain_early_closes_the_backend_stream() -> None:
    first = ScriptedBackend("vllm", ["one", "two", "three"])
    chain = FallbackBackend(name="chat", backends=[first])
    stream = chain.stream(REQUEST)
    assert isinstance(stream, AsyncGenerator)

    assert await anext(stream) == "one"
    await stream.aclose()
    assert first.finished.is_set()


async def test_it_sizes_prompts_for_the_smallest_window_and_counts_like_the_first() -> None:
    first = ScriptedBackend("vllm", context_window=8192)
    second = ScriptedBackend("local", context_window=2048)
    chain = FallbackBackend(name="chat", backends=[first, second])

    assert isinstance(chain, ChatBackend)
    assert chain.context_window == 2048
    assert chain.token_counter is first.token_counter
    assert chain.backends == (first, second)


class TinyBackend(ScriptedBackend):
    """A scripted backend with a tiny model's prompt limits that reads prompts ahead."""

    limits = PromptLimits(max_tokens=300, max_turns=6, context_after_turns=True)

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.read: list[Sequence[ChatMessage]] = []

    @property
    def prompt_limits(self) -> PromptLimits:
        """The tiny limits."""
        return self.limits

    async def prepare(self, messages: Sequence[ChatMessage]) -> int:
        """Remember what it was given to read ahead."""
        self.read.append(messages)
        return len(messages)


async def test_prompts_are_shaped_and_read_ahead_for_the_first_backend() -> None:
    local, remote = TinyBackend("local"), ScriptedBackend("vllm")
    opening = (ChatMessage("system", "You are Mira."),)

    chain = FallbackBackend(name="chat", backends=[local, remote])
    assert chain.prompt_limits == TinyBackend.limits
    assert await chain.prepare(opening) == 1 and local.read == [opening]

    reversed_chain = FallbackBackend(name="chat", backends=[remote, local])
    assert reversed_chain.prompt_limits == PromptLimits()
    assert await reversed_chain.prepare(opening) == 0 and local.read == [opening]


async def test_aclose_closes_every_backend() -> None:
    backends = [ScriptedBackend("vllm"), ScriptedBackend("local")]
    chain = FallbackBackend(name="chat", backends=backends)

    await chain.aclose()
    assert all(backend.closed for backend in backends)


def test_an_empty_chain_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one backend"):
        FallbackBackend(name="chat", backends=[])


# With real HTTP backends


def http_backend(server: OpenAIServer, name: str, model: str) -> OpenAICompatBackend:
    """An OpenAI-compatible backend on the scripted server that does not retry."""
    return OpenAICompatBackend(
        name=name,
        base_url=server.base_url,
        model=model,
        max_retries=0,
        transport=httpx.AsyncHTTPTransport(),
    )


async def test_an_http_backend_that_fails_falls_back_to_the_next(server: OpenAIServer) -> None:
    server.script(error_reply(503, "overloaded"), sse_reply("Hello", " from small"))
    chain = FallbackBackend(
        name="chat",
        backends=[
            http_backend(server, "big", "big-model"),
            http_backend(server, "small", "small-model"),
        ],
    )
    try:
        assert await collect(chain) == ["Hello", " from small"]
    finally:
        await chain.aclose()
    assert [request.json()["model"] for request in server.requests] == ["big-model", "small-model"]


async def test_an_http_backend_that_fails_mid_reply_is_not_replaced(
    server: OpenAIServer,
) -> None:
    server.script(Reply(body=[event(chat_chunk("Hel")), Drop()]), sse_reply("never"))
    chain = FallbackBackend(
        name="chat",
        backends=[
            http_backend(server, "big", "big-model"),
            http_backend(server, "small", "small-model"),
        ],
    )
    fragments: list[str] = []
    try:
        with pytest.raises(BackendError, match="backend 'big': lost"):
            await collect(chain, fragments)
    finally:
        await chain.aclose()
    assert fragments == ["Hel"]
    assert len(server.requests) == 1
