"""Reading a server-sent event stream (``text/event-stream``) as it arrives, in linear time."""

from __future__ import annotations

import re

__all__ = ["MAX_LINE_BYTES", "EventStreamDecoder", "LineTooLong"]

MAX_LINE_BYTES = 1 << 20
"""The longest line accepted: far more than any completion chunk, far less than memory."""

_SAMPLE_BYTES = 300
_LINE_END = re.compile(rb"\r\n|\r|\n")


class LineTooLong(Exception):
    """The stream sent a line longer than ``max_line`` bytes: it is not a completion stream."""


class EventStreamDecoder:
    """Turns the bytes of a server-sent event stream into the data of each event.

    Each byte is looked at once: a chunk is searched for line ends on its own, and only the
    unfinished line is carried to the next chunk, so a stream costs time in proportion to
    its length however it is cut. A line longer than ``max_line`` bytes raises
    :class:`LineTooLong` as soon as it gets that long. ``received`` keeps the stream's
    first bytes (to show in errors), ``events`` counts the events, ``scanned`` the bytes
    examined.
    """

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._max_line = max_line
        self._line = bytearray()
        self._after_cr = False
        self._data: list[str] = []
        self.received = bytearray()
        self.events = 0
        self.scanned = 0

    def feed(self, chunk: bytes) -> list[str]:
        """The data of every event that ``chunk`` completes."""
        if not chunk:
            return []
        if len(self.received) < _SAMPLE_BYTES:
            self.received += chunk[: _SAMPLE_BYTES - len(self.received)]
        start = 1 if self._after_cr and chunk.startswith(b"\n") else 0
        self.scanned += len(chunk) - start
        completed: list[str] = []
        for match in _LINE_END.finditer(chunk, start):
            self._extend(chunk[start : match.start()])
            data = self._end_line(bytes(self._line))
            self._line.clear()
            start = match.end()
            if data is not None:
                completed.append(data)
        self._extend(chunk[start:])
        self._after_cr = chunk.endswith(b"\r")
        return completed

    def _extend(self, part: bytes) -> None:
        if len(self._line) + len(part) > self._max_line:
            raise LineTooLong(f"a line passed {self._max_line} bytes without ending")
        self._line += part

    def _end_line(self, raw: bytes) -> str | None:
        """Take one complete line; the data of the event it ends, if it ends one."""
        if not raw:
            if not self._data:
                return None
            data = "\n".join(self._data)
            self._data.clear()
            self.events += 1
            return data
        line = raw.decode("utf-8", "replace")
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value.removeprefix(" "))
        return None
