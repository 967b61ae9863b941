"""Card containers: PNG text chunks, CHARX archives and plain JSON, read and written back."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from botkit.cards.files import (
    CardFileError,
    card_spec,
    read_card_file,
    write_charx,
    write_png,
)
from botkit.cards.png import PngError, read_text_chunks, write_text_chunks

V2 = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {"name": "Mira", "description": "The innkeeper. Ünïcödé ☕", "extensions": {"x": 1}},
}
V3 = {
    "spec": "chara_card_v3",
    "spec_version": "3.0",
    "data": {**V2["data"], "nickname": "Mira Quell", "group_only_greetings": []},
}


def chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def tiny_png() -> bytes:
    """A valid 1×1 grey PNG."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_text_chunks_are_written_before_the_end_and_replaced_not_doubled() -> None:
    image = write_text_chunks(tiny_png(), {"chara": "abc", "Comment": "hello"})
    assert read_text_chunks(image) == {"chara": "abc", "Comment": "hello"}
    again = write_text_chunks(image, {"chara": "xyz"})
    assert read_text_chunks(again) == {"Comment": "hello", "chara": "xyz"}
    assert again.endswith(chunk(b"IEND", b""))


def test_a_damaged_png_is_named() -> None:
    image = bytearray(write_text_chunks(tiny_png(), {"chara": "abc"}))
    image[-20] ^= 0xFF
    with pytest.raises(PngError, match="fails its CRC"):
        read_text_chunks(bytes(image))
    with pytest.raises(PngError, match="not a PNG"):
        read_text_chunks(b"GIF89a")
    with pytest.raises(PngError, match="no IEND"):
        read_text_chunks(tiny_png()[:-12])


def test_a_png_with_both_chunks_prefers_ccv3_and_keeps_both(tmp_path: Path) -> None:
    path = tmp_path / "mira.png"
    path.write_bytes(write_png(tiny_png(), {"chara": V2, "ccv3": V3}))
    found = read_card_file(path)
    assert found.card == V3 and card_spec(found.card) == "v3"
    assert found.cards == {"ccv3": V3, "chara": V2}
    assert found.image is not None
    rewritten = tmp_path / "again.png"
    rewritten.write_bytes(write_png(found.image, found.cards))
    assert read_card_file(rewritten).cards == found.cards


def test_an_unpadded_chunk_still_reads(tmp_path: Path) -> None:
    text = base64.b64encode(json.dumps(V2).encode()).decode().rstrip("=")
    path = tmp_path / "card.png"
    path.write_bytes(write_text_chunks(tiny_png(), {"chara": text}))
    assert read_card_file(path).card == V2


def test_charx_round_trips_card_and_assets(tmp_path: Path) -> None:
    assets = {"assets/icon/images/main.png": tiny_png(), "assets/other/notes.txt": b"hi"}
    path = tmp_path / "mira.charx"
    path.write_bytes(write_charx(V3, assets))
    found = read_card_file(path)
    assert found.card == V3 and found.assets == assets
    with pytest.raises(CardFileError, match="cannot go in a CHARX"):
        write_charx(V3, {"../escape.png": b""})


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object, found list"),
        (b"\xff\xfe{}", "not UTF-8"),
        (tiny_png(), "holds no card"),
        (write_text_chunks(tiny_png(), {"chara": "%%%"}), "chunk chara: not base64"),
        (zipped({"x.txt": b"1"}), "has no card.json"),
        (zipped({"card.json": b"{}", "../../evil.png": b"1"}), "points outside the archive"),
        (zipped({"card.json": b"{}", "big.bin": bytes(65 << 20)}), "unpacks to"),
    ],
)
def test_a_bad_card_file_is_one_clear_error(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "card.bin"
    path.write_bytes(data)
    with pytest.raises(CardFileError, match=message) as caught:
        read_card_file(path)
    assert str(caught.value).startswith(str(path))


def test_specs_are_told_apart() -> None:
    assert card_spec(V2) == "v2" and card_spec(V3) == "v3"
    assert card_spec({"name": "Old", "first_mes": "Hi"}) == "v1"
