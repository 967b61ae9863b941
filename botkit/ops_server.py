"""The operators' HTTP endpoint: ``/healthz`` for readiness, ``/metrics`` for Prometheus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from botkit.metrics import CONTENT_TYPE, Metrics

__all__ = ["HEALTH_TIMEOUT", "OpsServer"]

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 2.0
"""Seconds a health check may take before the bot counts as not ready."""
MAX_REQUEST_BYTES = 8192
Health = Callable[[], Awaitable[str | None]]
"""Why the bot is not ready, or None when it is."""


class OpsServer:
    """A small HTTP/1.1 server on ``host:port`` (port 0 picks a free one) that answers
    ``GET /healthz`` and ``GET /metrics``; each connection serves one request."""

    def __init__(self, host: str, port: int, *, health: Health, metrics: Metrics) -> None:
        self._host = host
        self._port = port
        self._health = health
        self._metrics = metrics
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one picked, when 0 was asked)."""
        if self._server is None:
            raise RuntimeError("the ops server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Listen; raises OSError when the address is taken."""
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info("health and metrics on http://%s:%d/", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening and close the connections."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, content_type, body = await self._answer(reader)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            log.debug("ops request dropped", exc_info=True)
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
        """The status line, content type and body for the request ``reader`` holds."""
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEALTH_TIMEOUT)
        if len(head) > MAX_REQUEST_BYTES:
            return _text("431 Request Header Fields Too Large", "request too large")
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(parts) != 3:
            return _text("400 Bad Request", "bad request line")
        method, target, _ = parts
        if method != "GET":
            return _text("405 Method Not Allowed", "only GET")
        path = target.split("?", 1)[0]
        if path == "/healthz":
            problem = await self._problem()
            if problem is None:
                return _text("200 OK", "ready")
            return _text("503 Service Unavailable", f"not ready: {problem}")
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE, await self._metrics.exposition()
        return _text("404 Not Found", "not found; try /healthz or /metrics")

    async def _problem(self) -> str | None:
        try:
            return await asyncio.wait_for(self._health(), HEALTH_TIMEOUT)
        except TimeoutError:
            return f"the health check took over {HEALTH_TIMEOUT:.0f} s"
        except Exception as error:
            return f"{type(error).__name__}: {error}"


def _text(status: str, text: str) -> tuple[str, str, bytes]:
    return status, "text/plain; charset=utf-8", (text + "\n").encode()
