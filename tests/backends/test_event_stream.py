"""Decoding a server-sent event stream: by the spec, in linear time, with a line cap."""

from __future__ import annotations

import json

import pytest

from botkit.backends.event_stream import MAX_LINE_BYTES, EventStreamDecoder, LineTooLong


def feed_all(decoder: EventStreamDecoder, data: bytes, size: int) -> list[str]:
    events: list[str] = []
    for start in range(0, len(data), size):
        events += decoder.feed(data[start : start + size])
    return events


@pytest.mark.parametrize("size", [1, 2, 3, 7, 4096])
def test_events_survive_any_cut_of_the_stream(size: int) -> None:
    stream = (
        b": comment\r\n\r\ndata: one\r\ndata:two\r\rdata: three\n\nevent: x\ndata: four\r\n\r\n"
    )
    assert feed_all(EventStreamDecoder(), stream, size) == ["one\ntwo", "three", "four"]


@pytest.mark.parametrize("size", [1024, 65536])
def test_a_line_that_never_ends_fails_once_it_passes_the_cap(size: int) -> None:
    decoder = EventStreamDecoder()
    line = b"data: " + b"a" * (MAX_LINE_BYTES + size)
    with pytest.raises(LineTooLong, match=f"passed {MAX_LINE_BYTES} bytes"):
        feed_all(decoder, line, size)
    assert decoder.scanned <= MAX_LINE_BYTES + size
    assert bytes(decoder.received).startswith(b"data: aaa")


def test_decoding_work_is_linear_in_the_stream() -> None:
    event = b"data: " + json.dumps({"choices": [{"delta": {"content": "word "}}]}).encode()
    stream = (event + b"\n\n") * 20_000
    for size in (1, 1024):
        decoder = EventStreamDecoder()
        assert len(feed_all(decoder, stream, size)) == 20_000
        assert decoder.scanned == len(stream)
