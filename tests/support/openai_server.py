"""A loopback OpenAI-compatible chat server that plays back scripted replies, for tests.

It really listens on 127.0.0.1 and speaks HTTP/1.1 (keep-alive, chunked streaming) the way
vLLM does, so clients are tested through a real socket. Each request is answered by the
next queued :class:`Reply`, whose body is a list of steps: data to send as one chunk,
:class:`Pause`, :class:`Stall` or :class:`Drop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any

__all__ = [
    "DONE",
    "Drop",
    "OpenAIServer",
    "Pause",
    "ReceivedRequest",
    "Reply",
    "Stall",
    "chat_chunk",
    "error_reply",
    "event",
    "json_reply",
    "sse_reply",
]

DONE = "data: [DONE]\n\n"
EVENT_STREAM = {"Content-Type": "text/event-stream; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait this many seconds before sending the next step."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Stall:
    """Send nothing more and keep the connection open until the client goes away."""


@dataclass(frozen=True, slots=True)
class Drop:
    """Cut the connection at once, leaving the body unfinished."""


Step = bytes | str | Pause | Stall | Drop


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted response: status, headers and body steps.

    ``chunked`` sends each data step as one chunk (``Transfer-Encoding: chunked``);
    otherwise the data steps are joined and sent with a ``Content-Length``.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=lambda: dict(EVENT_STREAM))
    body: Sequence[Step] = ()
    chunked: bool = True


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """A request the server received (header names in lower case)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The request body parsed as JSON."""
        return json.loads(self.body)


def chat_chunk(
    content: str | None = None, *, role: str | None = None, finish: str | None = None
) -> dict[str, Any]:
    """A ``chat.completion.chunk`` object as vLLM streams it."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "served-model",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def event(payload: object) -> str:
    """One server-sent event carrying ``payload`` as JSON."""
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def sse_reply(*texts: str, headers: Mapping[str, str] | None = None) -> Reply:
    """A complete streamed completion: a role chunk, one chunk per text, finish, ``[DONE]``."""
    steps: list[Step] = [event(chat_chunk("", role="assistant"))]
    steps += [event(chat_chunk(text)) for text in texts]
    steps += [event(chat_chunk(finish="stop")), DONE]
    return Reply(headers={**EVENT_STREAM, **(headers or {})}, body=steps)


def json_reply(status: int, payload: object, *, headers: Mapping[str, str] | None = None) -> Reply:
    """A plain JSON response with a ``Content-Length``."""
    return Reply(
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
        body=[json.dumps(payload)],
        chunked=False,
    )


def error_reply(status: int, message: str, *, headers: Mapping[str, str] | None = None) -> Reply:
    """An OpenAI-style error response."""
    error = {"message": message, "type": HTTPStatus(status).phrase, "param": None, "code": status}
    return json_reply(status, {"error": error}, headers=headers)


NO_REPLY_LEFT = error_reply(418, "the test server has no scripted reply left")


class OpenAIServer:
    """An HTTP/1.1 server on a random 127.0.0.1 port answering with scripted replies.

    Use it as ``async with OpenAIServer() as server``; queue replies with :meth:`script`
    (or give a ``responder`` that makes each reply from its request), then inspect
    :attr:`requests`. :attr:`client_gone` is set whenever a connection ends
    (the client hung up, or a :class:`Drop` cut it), so tests can see a client let go.
    """

    def __init__(self, responder: Callable[[ReceivedRequest], Reply] | None = None) -> None:
        self.requests: list[ReceivedRequest] = []
        self.client_gone = asyncio.Event()
        self._responder = responder
        self._replies: deque[Reply] = deque()
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL clients should use (ends in ``/v1``)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        self._replies.extend(replies)

    async def __aenter__(self) -> OpenAIServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._connections.values():
            writer.transport.abort()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        if handler is not None:
            self._connections[handler] = writer
        try:
            while (request := await _read_request(reader)) is not None:
                self.requests.append(request)
                if self._replies:
                    reply = self._replies.popleft()
                elif self._responder is not None:
                    reply = self._responder(request)
                else:
                    reply = NO_REPLY_LEFT
                if not await self._send(reply, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self.client_gone.set()
            if handler is not None:
                self._connections.pop(handler, None)

    async def _send(
        self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Send ``reply``; False when the connection is finished with."""
        status = f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}"
        headers = dict(reply.headers)
        if not reply.chunked:
            whole = b"".join(_bytes(step) for step in reply.body if isinstance(step, bytes | str))
            headers["Content-Length"] = str(len(whole))
            writer.write(_head(status, headers) + whole)
            await writer.drain()
            return True
        headers["Transfer-Encoding"] = "chunked"
        writer.write(_head(status, headers))
        for step in reply.body:
            if isinstance(step, Pause):
                if not await _wait_unless_gone(reader, step.seconds):
                    return False
            elif isinstance(step, Stall):
                await _wait_unless_gone(reader, None)
                return False
            elif isinstance(step, Drop):
                writer.transport.abort()
                return False
            elif data := _bytes(step):
                writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


async def _read_request(reader: asyncio.StreamReader) -> ReceivedRequest | None:
    """The next request on the connection, or None when the client closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, path, _version = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return ReceivedRequest(method, path, headers, body)


async def _wait_unless_gone(reader: asyncio.StreamReader, seconds: float | None) -> bool:
    """Wait ``seconds`` (None: for ever); False as soon as the client closes the connection."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(1024):
                pass
    except TimeoutError:
        return True
    return False


def _head(status: str, headers: Mapping[str, str]) -> bytes:
    lines = [status, *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _bytes(step: bytes | str) -> bytes:
    return step.encode() if isinstance(step, str) else step
