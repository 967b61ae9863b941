"""Damaged and hostile card files: one clear error line, and nothing half-written."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from botkit.cards import asset_folder
from botkit.cards.convert import CardConversionError, import_card
from botkit.cards.files import MAX_CARD_DEPTH, write_charx
from botkit.cards.png import write_text_chunks
from botkit.characters import check_paths
from tests.cards.test_files import tiny_png

CARD: dict[str, Any] = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {"name": "Mira", "description": "The innkeeper.", "tags": ["inn"]},
}


def card_with(**fields: Any) -> dict[str, Any]:
    return {**CARD, "data": {**CARD["data"], **fields}}


def refused(tmp_path: Path, name: str, data: bytes, **options: Any) -> str:
    """The error an import of ``data`` gives; nothing may be written."""
    source = tmp_path / name
    source.write_bytes(data)
    out = tmp_path / "out"
    with pytest.raises(CardConversionError) as caught:
        import_card(source, out, **options)
    assert not out.exists() or list(out.iterdir()) == []
    message = str(caught.value)
    assert message.startswith(f"{source}: ")
    return message


def one_line(message: str) -> str:
    assert "\n" not in message, message
    return message


def charx_member_patched(offsets: tuple[int, int], value: bytes) -> bytes:
    """A CHARX whose ``card.json`` has ``value`` at the given offsets of its local and
    central headers (flag bits at 6/8, compression method at 8/10)."""
    data = bytearray(write_charx(CARD, {}))
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + offsets[0] : local + offsets[0] + 2] = value
    data[central + offsets[1] : central + offsets[1] + 2] = value
    return bytes(data)


def stored_charx(card_json: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("card.json", card_json)
    return buffer.getvalue()


def test_deeply_nested_json_is_one_line(tmp_path: Path) -> None:
    nested = '{"spec": "chara_card_v2", "data": {"name": "M", "extensions": {"x": '
    data = (nested + "[" * 100_000 + "]" * 100_000 + "}}}").encode()
    message = one_line(refused(tmp_path, "deep.json", data))
    assert message.endswith(f"values nest more than {MAX_CARD_DEPTH} levels deep")


def test_an_overlong_integer_is_one_line(tmp_path: Path) -> None:
    data = json.dumps(card_with(extensions={"talkativeness": 1})).replace("1}", "9" * 5000 + "}")
    assert one_line(refused(tmp_path, "long.json", data.encode())).endswith(
        "a number is too long to read"
    )


def test_a_huge_talkativeness_is_a_field_error(tmp_path: Path) -> None:
    data = json.dumps(card_with(extensions={"talkativeness": 1})).replace("1}", "9" * 400 + "}")
    assert one_line(refused(tmp_path, "big.json", data.encode())).endswith(
        "data.extensions.talkativeness: expected a number"
    )


def test_non_ascii_base64_in_a_png_chunk_is_one_line(tmp_path: Path) -> None:
    data = write_text_chunks(tiny_png(), {"chara": "é" + base64.b64encode(b"{}").decode()})
    assert "chunk chara: not base64" in one_line(refused(tmp_path, "card.png", data))


def test_a_bad_crc_in_a_charx_is_one_line(tmp_path: Path) -> None:
    data = bytearray(stored_charx(json.dumps(CARD).encode()))
    data[data.index(b"Mira")] = ord("N")
    assert "a damaged CHARX (zip) archive: Bad CRC-32" in one_line(
        refused(tmp_path, "crc.charx", bytes(data))
    )


def test_a_broken_deflate_stream_is_one_line(tmp_path: Path) -> None:
    data = bytearray(write_charx(CARD, {}))
    start = data.index(b"card.json") + len("card.json")
    data[start : start + 8] = b"\xff" * 8
    assert "a damaged CHARX (zip) archive" in one_line(refused(tmp_path, "zlib.charx", bytes(data)))


def test_an_encrypted_member_is_one_line(tmp_path: Path) -> None:
    data = charx_member_patched((6, 8), b"\x01\x00")
    assert one_line(refused(tmp_path, "locked.charx", data)).endswith("'card.json' is encrypted")


def test_an_unknown_compression_is_one_line(tmp_path: Path) -> None:
    data = charx_member_patched((8, 10), b"\x63\x00")
    assert one_line(refused(tmp_path, "odd.charx", data)).endswith(
        "'card.json' uses compression method 99, which botkit cannot unpack"
    )


def test_a_lone_surrogate_in_a_card_is_refused(tmp_path: Path) -> None:
    data = json.dumps(card_with(description="Mi\ud800ra")).encode()
    assert "lone surrogate ('\\ud800')" in one_line(refused(tmp_path, "s.json", data))


@pytest.mark.parametrize(
    ("card", "options", "problem"),
    [
        (card_with(tags=[""]), {}, "tags[0]: expected non-empty text"),
        (card_with(alternate_greetings=["  "]), {}, "alternate_greetings[0]: expected non-empty"),
        (CARD, {"character_id": "Not A Slug"}, "id: expected a lowercase slug"),
        (
            {"spec": "chara_card_v2", "data": {"name": "Mira", "first_mes": "Hi"}},
            {},
            "persona: required field is missing",
        ),
        (
            card_with(character_book={"entries": [{"content": "x", "use_regex": "yes"}]}),
            {},
            "lorebook.entries[0].use_regex: expected true or false",
        ),
        (card_with(description="x" * (1 << 20)), {}, "larger than 1,048,576 bytes"),
    ],
)
def test_an_import_never_writes_yaml_that_check_rejects(
    tmp_path: Path, card: dict[str, Any], options: dict[str, Any], problem: str
) -> None:
    message = refused(tmp_path, "card.json", json.dumps(card).encode(), **options)
    assert f"cannot import: {problem}" in message


def test_an_accepted_import_passes_the_check(tmp_path: Path) -> None:
    source = tmp_path / "mira.charx"
    source.write_bytes(write_charx(CARD, {"assets/a.png": b"a", "assets/b/c.txt": b"c"}))
    done = import_card(source, tmp_path / "out")
    assert check_paths([done.path]) == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "mira.assets",
        "mira.yaml",
        "pack.yaml",
    ]


def test_a_member_that_is_also_a_folder_is_refused_before_writing(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("card.json", json.dumps(CARD))
        archive.writestr("assets/a", b"file")
        archive.writestr("assets/a/b", b"inside a file")
    message = one_line(refused(tmp_path, "clash.charx", buffer.getvalue()))
    assert message.endswith("'assets/a' is both a file and a folder, or twice there")


def test_a_failed_import_leaves_no_partial_assets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "mira.charx"
    source.write_bytes(write_charx(CARD, {f"assets/{n}.txt": b"x" for n in range(5)}))
    out = tmp_path / "out"
    import_card(source, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    source.write_bytes(write_charx(CARD, {f"assets/{n}.txt": b"new" for n in range(5)}))
    written: list[Path] = []

    def failing_write(path: Path, data: bytes) -> None:
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        written.append(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    monkeypatch.setattr(asset_folder, "write_atomically", failing_write)
    with pytest.raises(OSError, match="No space left"):
        import_card(source, out, overwrite=True)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in out.iterdir()) == ["mira.assets", "mira.yaml", "pack.yaml"]
