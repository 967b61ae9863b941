"""PNG text chunks, where character cards travel inside their portrait."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping

__all__ = ["PNG_SIGNATURE", "PngError", "read_text_chunks", "write_text_chunks"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT = b"tEXt"
_END = b"IEND"


class PngError(ValueError):
    """The bytes are not a PNG image, or one of its chunks is damaged."""


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every (type, payload) chunk of ``data``, checked against its CRC."""
    if not data.startswith(PNG_SIGNATURE):
        raise PngError("not a PNG image (wrong signature)")
    chunks: list[tuple[bytes, bytes]] = []
    offset = len(PNG_SIGNATURE)
    while offset < len(data):
        if offset + 8 > len(data):
            raise PngError(f"chunk header cut short at byte {offset}")
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        end = offset + 8 + length
        if end + 4 > len(data):
            raise PngError(f"chunk {kind!r} at byte {offset} runs past the end of the file")
        payload = data[offset + 8 : end]
        (crc,) = struct.unpack(">I", data[end : end + 4])
        if zlib.crc32(kind + payload) != crc:
            raise PngError(f"chunk {kind.decode('latin-1')} at byte {offset} fails its CRC")
        chunks.append((kind, payload))
        offset = end + 4
        if kind == _END:
            break
    if not chunks or chunks[-1][0] != _END:
        raise PngError("the image has no IEND chunk")
    return chunks


def read_text_chunks(data: bytes) -> dict[str, str]:
    """The ``tEXt`` chunks of a PNG as keyword → text (Latin-1, as the format defines)."""
    found: dict[str, str] = {}
    for kind, payload in _chunks(data):
        if kind == _TEXT and b"\0" in payload:
            keyword, _, text = payload.partition(b"\0")
            found[keyword.decode("latin-1")] = text.decode("latin-1")
    return found


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def write_text_chunks(data: bytes, texts: Mapping[str, str]) -> bytes:
    """``data`` with its ``tEXt`` chunks named in ``texts`` replaced by the given ones.

    Other chunks are kept as they are; the new chunks go right before ``IEND``. Texts must
    be Latin-1 (card payloads are base64, which is ASCII).
    """
    chunks = [
        (kind, payload)
        for kind, payload in _chunks(data)
        if not (kind == _TEXT and payload.partition(b"\0")[0].decode("latin-1") in texts)
    ]
    out = bytearray(PNG_SIGNATURE)
    for kind, payload in chunks[:-1]:
        out += _chunk(kind, payload)
    for keyword, text in texts.items():
        out += _chunk(_TEXT, keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))
    out += _chunk(*chunks[-1])
    return bytes(out)
