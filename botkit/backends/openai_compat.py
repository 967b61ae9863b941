"""A chat backend for any server that speaks the OpenAI chat-completions streaming API."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, aclosing
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from botkit.backends.base import (
    BackendAuthError,
    BackendError,
    BackendNotFound,
    BackendProtocolError,
    BackendRateLimited,
    BackendTimeout,
    BackendUnavailable,
    ChatRequest,
    ContinuationRequest,
    Sampling,
)
from botkit.backends.choices import choice_grammar
from botkit.backends.event_stream import MAX_LINE_BYTES, EventStreamDecoder, LineTooLong
from botkit.backends.logprobs import TOP_LOGPROBS, first_token_alternatives, score_continuations
from botkit.backends.options import CHOICE_CONSTRAINTS
from botkit.tokens import TokenCounter, default_token_counter

__all__ = ["OpenAICompatBackend", "Sleep"]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
"""Waits the given number of seconds (``asyncio.sleep``, or a recorder in tests)."""

_Item = TypeVar("_Item")

_SHOWN_CHARS = 300
_ERROR_BODY_BYTES = 4096
_MIN_SECRET_CHARS = 8
_RETRY_STATUSES = frozenset({408, 409, 429})
_RETRY_KINDS: Mapping[int, type[BackendError]] = {408: BackendTimeout, 429: BackendRateLimited}
_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key"})
_ERROR_KINDS: Mapping[int, type[BackendError]] = {
    401: BackendAuthError,
    403: BackendAuthError,
    404: BackendNotFound,
    408: BackendTimeout,
    429: BackendRateLimited,
}


class OpenAICompatBackend:
    """Streams chat completions from an OpenAI-compatible server: vLLM, llama.cpp, Ollama, hosted.

    A failure before the first fragment (HTTP 408/409/429/5xx, a lost or timed-out
    connection) is retried with jittered exponential backoff, or after the server's
    ``Retry-After``; once text has been yielded, errors propagate. ``total_timeout`` bounds
    the whole reply, retries included. ``request.prefix`` is not sent: the chat API has no
    portable way to start the assistant turn, so the reply filter strips the tag instead.
    ``extra_body`` adds provider-specific fields; the fields this backend sets win over it.

    ``choice_constraint`` says how a request with ``choices`` is held to them: vLLM's
    ``structured_outputs`` (``"structured_outputs"``), a llama.cpp server ``grammar``
    (``"grammar"``), or not at all (``"none"``, for hosted APIs; the caller parses the text).

    :meth:`score_continuations` asks for one token with its ``top_logprobs`` and scores
    every continuation from that one answer (see :mod:`botkit.backends.logprobs`).
    """

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        model: str,
        api_key: str | None = None,
        context_window: int = 8192,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        total_timeout: float = 180.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        retry_after_cap: float = 60.0,
        default_sampling: Sampling | None = None,
        extra_body: Mapping[str, Any] | None = None,
        choice_constraint: str = "none",
        headers: Mapping[str, str] | None = None,
        token_counter: TokenCounter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        _check_settings(
            base_url=base_url,
            model=model,
            positive={
                "context_window": context_window,
                "connect_timeout": connect_timeout,
                "read_timeout": read_timeout,
                "total_timeout": total_timeout,
            },
            not_negative={
                "max_retries": max_retries,
                "backoff_base": backoff_base,
                "backoff_max": backoff_max,
                "retry_after_cap": retry_after_cap,
            },
        )
        if choice_constraint not in CHOICE_CONSTRAINTS:
            raise ValueError(
                f"choice_constraint must be one of {', '.join(CHOICE_CONSTRAINTS)}, "
                f"got {choice_constraint!r}"
            )
        self.name = name
        self._choice_constraint = choice_constraint
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._shown = _masked_url(self._url)
        self._model = model
        self._has_key = bool(api_key)
        self._context_window = context_window
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._total_timeout = total_timeout
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._retry_after_cap = retry_after_cap
        self._default = default_sampling or Sampling()
        self._extra_body = dict(extra_body or {})
        self._counter = token_counter
        self._sleep = sleep
        sent_headers = {"Accept": "text/event-stream"}
        if api_key:
            sent_headers["Authorization"] = f"Bearer {api_key}"
        sent_headers.update({key: f"{value}" for key, value in (headers or {}).items()})
        self._secrets = _secrets_in(sent_headers) + _url_secrets(self._url)
        self._client = httpx.AsyncClient(
            headers=sent_headers,
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
            ),
            transport=transport,
        )

    @property
    def context_window(self) -> int:
        """Tokens the served model accepts, prompt and reply together (as configured)."""
        return self._context_window

    @property
    def token_counter(self) -> TokenCounter:
        """The counter given to the constructor, else the offline tiktoken approximation."""
        return self._counter or default_token_counter()

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Generate a reply to ``request``, yielding text as the server streams it."""
        async with aclosing(self._retrying(self._payload(request), _content)) as fragments:
            async for fragment in fragments:
                yield fragment

    async def score_continuations(self, request: ContinuationRequest) -> tuple[float, ...]:
        """The log-probability of each continuation, from the reply's first token in one
        request: the logprob of the likeliest listed token that begins it, or the floor.

        Raises:
            BackendProtocolError: the server sent no logprobs (it may not support them).
        """
        payload: dict[str, Any] = {
            **self._extra_body,
            "model": request.model or self._model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": TOP_LOGPROBS,
        }
        async with aclosing(self._retrying(payload, first_token_alternatives)) as answers:
            async for alternatives in answers:
                return score_continuations(alternatives, request.continuations)
        raise self._error(
            BackendProtocolError,
            "the answer carried no logprobs (the server may not support logprobs)",
        )

    async def _retrying(
        self, payload: dict[str, Any], pick: Callable[[dict[str, Any]], _Item | None]
    ) -> AsyncGenerator[_Item, None]:
        """What ``pick`` finds in each streamed choice, retrying failures before the first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._total_timeout
        attempt = 0
        while True:
            yielded = False
            try:
                async with aclosing(self._attempt(payload, deadline, pick)) as items:
                    async for item in items:
                        yielded = True
                        yield item
                return
            except _Retry as failure:
                attempt += 1
                delay = self._delay(attempt, failure.wait)
                if yielded or attempt > self._max_retries or loop.time() + delay >= deadline:
                    raise self._give_up(failure, attempt, yielded) from failure.__cause__
                log.warning(
                    "%s; retry %d of %d in %.2f s",
                    self._redact(f"backend {self.name!r}: {failure.reason}"),
                    attempt,
                    self._max_retries,
                    delay,
                )
                await self._sleep(delay)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        sampling = self._default.merged(request.sampling)
        payload: dict[str, Any] = {
            **self._extra_body,
            "model": sampling.model or self._model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
        }
        if sampling.temperature is not None:
            payload["temperature"] = sampling.temperature
        if sampling.top_p is not None:
            payload["top_p"] = sampling.top_p
        if sampling.max_tokens is not None:
            payload["max_tokens"] = sampling.max_tokens
        if sampling.stop:
            payload["stop"] = list(sampling.stop)
        if request.choices and self._choice_constraint == "structured_outputs":
            payload["structured_outputs"] = {"choice": list(request.choices)}
        elif request.choices and self._choice_constraint == "grammar":
            payload["grammar"] = choice_grammar(request.choices)
        return payload

    async def _attempt(
        self,
        payload: dict[str, Any],
        deadline: float,
        pick: Callable[[dict[str, Any]], _Item | None],
    ) -> AsyncGenerator[_Item, None]:
        """One request: yields what ``pick`` finds in the streamed choices, raises
        ``_Retry`` or a BackendError."""
        try:
            async with AsyncExitStack() as stack:
                async with asyncio.timeout_at(deadline):
                    response = await stack.enter_async_context(
                        self._client.stream("POST", self._url, json=payload)
                    )
                if not response.is_success:
                    raise await self._status_error(response, str(payload["model"]), deadline)
                await self._check_event_stream(response, deadline)
                decoder = EventStreamDecoder()
                chunks = response.aiter_bytes()
                while True:
                    async with asyncio.timeout_at(deadline):
                        chunk = await anext(chunks, None)
                    if chunk is None:
                        break
                    for data in self._feed(decoder, chunk):
                        if data.strip() == "[DONE]":
                            return
                        choice = self._choice(data)
                        item = None if choice is None else pick(choice)
                        if item is not None:
                            yield item
                    await asyncio.sleep(0)
                if not decoder.events:
                    raise self._error(
                        BackendProtocolError,
                        f"the stream from {self._shown} ended without any events; "
                        f"received {_sample(bytes(decoder.received))}",
                    )
        except TimeoutError:
            raise self._error(
                BackendTimeout, f"no complete reply within total_timeout {self._total_timeout:g} s"
            ) from None
        except httpx.TimeoutException as error:
            raise _Retry(BackendTimeout, self._timeout_reason(error)) from error
        except (httpx.NetworkError, httpx.RemoteProtocolError) as error:
            what = "cannot connect to" if isinstance(error, httpx.ConnectError) else "lost"
            reason = f"{what} {self._shown}: {error or type(error).__name__}"
            raise _Retry(BackendUnavailable, reason) from error
        except httpx.HTTPError as error:
            kind = BackendProtocolError if isinstance(error, httpx.DecodingError) else BackendError
            reason = f"request to {self._shown} failed: {error or type(error).__name__}"
            raise self._error(kind, reason) from error

    async def _status_error(
        self, response: httpx.Response, model: str, deadline: float
    ) -> BackendError | _Retry:
        status = response.status_code
        body = await _read_start(response, deadline)
        log.debug("%s", self._redact(f"backend {self.name!r}: HTTP {status} body: {_sample(body)}"))
        detail = _server_message(body)
        said = f": {detail}" if detail else ""
        if status in _RETRY_STATUSES or status >= 500:
            kind = _RETRY_KINDS.get(status, BackendUnavailable)
            wait = _retry_after(response.headers, self._retry_after_cap)
            return _Retry(kind, f"HTTP {status}{said}", wait)
        if status in (401, 403):
            hint = "check api_key" if self._has_key else "no api_key is configured"
            return self._error(
                BackendAuthError,
                f"{self._shown} refused the credentials ({hint}): HTTP {status}{said}",
            )
        if status == 404:
            if "model" in detail.lower():
                problem = f"the model name {model!r} is probably wrong"
            else:
                problem = f"the URL {self._shown} is probably wrong (check base_url, often …/v1)"
            return self._error(BackendNotFound, f"HTTP 404, {problem}{said}")
        if 300 <= status < 400:
            location = response.headers.get("location", "nowhere")
            return self._error(
                BackendError, f"HTTP {status} redirect to {location}; check base_url{said}"
            )
        return self._error(BackendError, f"request rejected with HTTP {status}{said}")

    async def _check_event_stream(self, response: httpx.Response, deadline: float) -> None:
        media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media in ("", "text/event-stream"):
            return
        body = await _read_start(response, deadline)
        fields = _error_fields(_json_or_none(body))
        if fields is not None:
            raise self._error(
                _kind_for_code(fields[1]), f"the server answered with an error: {fields[0]}"
            )
        raise self._error(
            BackendProtocolError,
            f"expected an event stream from {self._shown}, got {media} {_sample(body)}",
        )

    def _feed(self, decoder: EventStreamDecoder, chunk: bytes) -> list[str]:
        try:
            return decoder.feed(chunk)
        except LineTooLong:
            raise self._error(
                BackendProtocolError,
                f"the event stream from {self._shown} sent a line of over {MAX_LINE_BYTES} "
                f"bytes (not a chat-completion stream); it began "
                f"{_sample(bytes(decoder.received))}",
            ) from None

    def _choice(self, data: str) -> dict[str, Any] | None:
        """The first choice of a streamed chunk (None when it has none), checked for shape."""
        chunk = _json_or_none(data)
        if not isinstance(chunk, dict):
            raise self._error(
                BackendProtocolError,
                f"the stream sent data that is not a JSON object: {_sample(data)}",
            )
        fields = _error_fields(chunk)
        if fields is not None:
            message, code = fields
            raise self._error(
                _kind_for_code(code), f"the server reported an error in the stream: {message}"
            )
        choices = chunk.get("choices")
        if not choices:
            return None
        first = choices[0] if isinstance(choices, list) else None
        delta = first.get("delta", {}) if isinstance(first, dict) else None
        content = delta.get("content") if isinstance(delta, dict) else None
        if (
            not isinstance(first, dict)
            or not isinstance(delta, dict)
            or not isinstance(content, str | None)
        ):
            raise self._error(
                BackendProtocolError,
                f"the stream sent a chunk of unexpected shape: {_sample(data)}",
            )
        return first

    def _delay(self, attempt: int, wait: float | None) -> float:
        if wait is not None:
            return wait
        ceiling = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _timeout_reason(self, error: httpx.TimeoutException) -> str:
        if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout):
            return (
                f"no connection to {self._shown} within connect_timeout {self._connect_timeout:g} s"
            )
        return f"no data from {self._shown} for read_timeout {self._read_timeout:g} s"

    def _give_up(self, failure: _Retry, attempts: int, yielded: bool) -> BackendError:
        if yielded:
            why = " (mid-reply)"
        elif attempts <= self._max_retries:
            why = f" (a retry would pass total_timeout {self._total_timeout:g} s)"
        elif attempts > 1:
            why = f" (gave up after {attempts} attempts)"
        else:
            why = ""
        return self._error(failure.kind, failure.reason + why)

    def _error(self, kind: type[BackendError], what: str) -> BackendError:
        return kind(self._redact(f"backend {self.name!r}: {what}"))

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class _Retry(Exception):
    """An attempt failed in a way a later attempt may get past.

    ``kind`` and ``reason`` make the error raised when no attempt is left; ``wait`` is the
    delay the server asked for, if it did.
    """

    def __init__(self, kind: type[BackendError], reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.wait = wait


def _content(choice: dict[str, Any]) -> str | None:
    """The text a streamed choice adds to the reply, if any."""
    delta = choice.get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) and content else None


def _check_settings(
    *,
    base_url: str,
    model: str,
    positive: Mapping[str, float],
    not_negative: Mapping[str, float],
) -> None:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
    if not model:
        raise ValueError("model must name the served model")
    for setting, value in positive.items():
        if not value > 0:
            raise ValueError(f"{setting} must be positive, got {value!r}")
    for setting, value in not_negative.items():
        if not value >= 0:
            raise ValueError(f"{setting} must not be negative, got {value!r}")


def _masked_url(url: str) -> str:
    """``url`` as errors may show it: without the credentials or query it may carry."""
    parts = urlsplit(url)
    _, at, host = parts.netloc.rpartition("@")
    netloc = f"***@{host}" if at else host
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def _url_secrets(url: str) -> tuple[str, ...]:
    """The credentials written into ``url`` (``user:password@``), to mask wherever they show."""
    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    password = userinfo.partition(":")[2]
    found = (userinfo, password, unquote(userinfo), unquote(password))
    return tuple(secret for secret in set(found) if len(secret) >= _MIN_SECRET_CHARS)


def _secrets_in(headers: Mapping[str, str]) -> tuple[str, ...]:
    """Credential values in ``headers`` long enough to be real secrets, not dummy values."""
    secrets = {
        value.rpartition(" ")[2] for key, value in headers.items() if key.lower() in _SECRET_HEADERS
    }
    return tuple(secret for secret in secrets if len(secret) >= _MIN_SECRET_CHARS)


async def _read_start(response: httpx.Response, deadline: float) -> bytes:
    """The first bytes of ``response``'s body, enough to say what the server sent."""
    body = bytearray()
    async with asyncio.timeout_at(deadline):
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= _ERROR_BODY_BYTES:
                break
    return bytes(body[:_ERROR_BODY_BYTES])


def _json_or_none(body: bytes | str) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _error_fields(payload: object) -> tuple[str, int | None] | None:
    """The message and numeric code of an OpenAI-style error object, if it is one."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, str):
        return _one_line(error), None
    if isinstance(error, dict):
        source: dict[str, Any] = error
    elif payload.get("object") == "error":
        source = payload
    else:
        return None
    message = source.get("message")
    code = source.get("code")
    text = message if isinstance(message, str) and message else json.dumps(source)
    number = code if isinstance(code, int) and not isinstance(code, bool) else None
    return _one_line(text), number


def _server_message(body: bytes) -> str:
    """What the server said in an error response, as one short line."""
    payload = _json_or_none(body)
    fields = _error_fields(payload)
    if fields is not None:
        return fields[0]
    if isinstance(payload, dict) and isinstance(payload.get("detail"), str):
        return _one_line(payload["detail"])
    return _one_line(body.decode("utf-8", "replace"))


def _kind_for_code(code: int | None) -> type[BackendError]:
    """The error class for an HTTP-like status code in a server's error object."""
    if code is None or code >= 500:
        return BackendUnavailable
    return _ERROR_KINDS.get(code, BackendError)


def _retry_after(headers: httpx.Headers, cap: float) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``), capped."""
    seconds: float | None = None
    milliseconds = headers.get("retry-after-ms")
    retry_after = headers.get("retry-after")
    if milliseconds is not None:
        seconds = _float_or_none(milliseconds)
        seconds = None if seconds is None else seconds / 1000
    elif retry_after is not None:
        seconds = _float_or_none(retry_after)
        if seconds is None:
            try:
                when = parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = when.timestamp() - time.time()
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), cap)


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _one_line(text: str) -> str:
    """``text`` with its whitespace collapsed, cut to a length fit for a log line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _SHOWN_CHARS else flat[:_SHOWN_CHARS] + "…"


def _sample(data: bytes | str) -> str:
    """A quoted, shortened sample of what a server sent."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "…"
    return repr(text)
