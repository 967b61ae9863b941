"""Reading and writing character card files: JSON, PNG (``ccv3``/``chara``) and CHARX."""

from __future__ import annotations

import base64
import io
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from botkit.bounded_read import read_at_most
from botkit.cards.png import PNG_SIGNATURE, PngError, read_text_chunks, write_text_chunks

__all__ = [
    "CARD_CHUNKS",
    "MAX_ARCHIVE_BYTES",
    "MAX_CARD_DEPTH",
    "MAX_CARD_FILE_BYTES",
    "CardFile",
    "CardFileError",
    "card_spec",
    "read_card_file",
    "write_charx",
    "write_png",
]

CARD_CHUNKS = ("ccv3", "chara")
"""PNG text chunks that carry a card, the preferred one first."""
MAX_ARCHIVE_BYTES = 64 << 20
"""The most a CHARX archive may unpack to."""
MAX_CARD_FILE_BYTES = 64 << 20
"""The largest card file (JSON, PNG or CHARX) botkit reads."""
MAX_CARD_DEPTH = 48
"""How deep a card's JSON values may nest (well within what character YAML allows)."""
_MAX_ARCHIVE_FILES = 1000
_CARD_JSON = "card.json"
_ENCRYPTED = 0x1
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_SURROGATE = re.compile("[\ud800-\udfff]")


class CardFileError(ValueError):
    """A card file cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class CardFile:
    """A card as a file holds it.

    ``cards`` are the card objects found, by where they were (a PNG chunk keyword, or
    ``card.json``), the preferred first; ``image`` is the PNG they came in; ``assets``
    are a CHARX archive's other files by their path inside it.
    """

    cards: dict[str, dict[str, Any]]
    image: bytes | None = None
    assets: dict[str, bytes] = field(default_factory=dict)

    @property
    def card(self) -> dict[str, Any]:
        """The card to use: ``ccv3`` before ``chara`` in a PNG."""
        return next(iter(self.cards.values()))


def card_spec(card: Mapping[str, Any]) -> str:
    """``"v3"``, ``"v2"`` or ``"v1"``: which Character Card spec ``card`` follows."""
    spec = card.get("spec")
    if spec == "chara_card_v3":
        return "v3"
    if spec == "chara_card_v2":
        return "v2"
    return "v1"


def _decode_json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CardFileError(f"{where}: not UTF-8 text ({error.reason})") from error
    if _too_deep(text):
        raise CardFileError(f"{where}: values nest more than {MAX_CARD_DEPTH} levels deep")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CardFileError(f"{where}: not valid JSON: line {error.lineno}: {error.msg}") from error
    except ValueError as error:
        raise CardFileError(f"{where}: a number is too long to read") from error
    if not isinstance(value, dict):
        raise CardFileError(f"{where}: expected a JSON object, found {type(value).__name__}")
    bad = _lone_surrogate(value)
    if bad is not None:
        raise CardFileError(
            f"{where}: text holds a lone surrogate ({bad!a}), which is not valid Unicode text"
        )
    return value


def _too_deep(text: str) -> bool:
    """Whether the JSON ``text`` nests deeper than ``MAX_CARD_DEPTH`` (brackets outside
    strings counted; invalid JSON is left for the parser to report)."""
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_CARD_DEPTH:
                return True
        elif token in "]}":
            depth -= 1
    return False


def _lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate in any text or key of ``value``, or None."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending += item.keys()
            pending += item.values()
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, str) and (found := _SURROGATE.search(item)):
            return found.group()
    return None


def _read_png(data: bytes, where: str) -> CardFile:
    try:
        texts = read_text_chunks(data)
    except PngError as error:
        raise CardFileError(f"{where}: {error}") from error
    cards: dict[str, dict[str, Any]] = {}
    for keyword in CARD_CHUNKS:
        if keyword not in texts:
            continue
        text = texts[keyword].strip()
        try:
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except ValueError as error:
            raise CardFileError(f"{where}: chunk {keyword}: not base64 ({error})") from error
        cards[keyword] = _decode_json(raw, f"{where}: chunk {keyword}")
    if not cards:
        raise CardFileError(f"{where}: the PNG holds no card (no ccv3 or chara text chunk)")
    return CardFile(cards, image=data)


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        not path.is_absolute() and ".." not in path.parts and "\\" not in name and bool(path.parts)
    )


def _clashing_member(names: list[str]) -> str | None:
    """A member whose path is also another member's folder, or that appears twice."""
    files: set[tuple[str, ...]] = set()
    folders: set[tuple[str, ...]] = set()
    for name in names:
        parts = PurePosixPath(name).parts
        if parts in files or parts in folders:
            return name
        files.add(parts)
        folders.update(parts[:end] for end in range(1, len(parts)))
    return next(("/".join(parts) for parts in files & folders), None)


def _read_charx(data: bytes, where: str) -> CardFile:
    try:
        return _unpack_charx(data, where)
    except CardFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, struct.error) as error:
        raise CardFileError(f"{where}: a damaged CHARX (zip) archive: {error}") from error
    except (RuntimeError, NotImplementedError) as error:
        raise CardFileError(
            f"{where}: a CHARX (zip) archive botkit cannot read: {error}"
        ) from error


def _unpack_charx(data: bytes, where: str) -> CardFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) > _MAX_ARCHIVE_FILES:
            raise CardFileError(f"{where}: {len(members)} files, more than {_MAX_ARCHIVE_FILES}")
        total = sum(info.file_size for info in members)
        if total > MAX_ARCHIVE_BYTES:
            raise CardFileError(
                f"{where}: unpacks to {total:,} bytes, more than {MAX_ARCHIVE_BYTES:,}"
            )
        unsafe = [info.filename for info in members if not _safe_member(info.filename)]
        if unsafe:
            raise CardFileError(f"{where}: {unsafe[0]!r} points outside the archive")
        for info in members:
            if info.flag_bits & _ENCRYPTED:
                raise CardFileError(f"{where}: {info.filename!r} is encrypted")
            if info.compress_type not in _COMPRESSIONS:
                raise CardFileError(
                    f"{where}: {info.filename!r} uses compression method {info.compress_type}, "
                    "which botkit cannot unpack"
                )
        clash = _clashing_member([info.filename for info in members])
        if clash is not None:
            raise CardFileError(f"{where}: {clash!r} is both a file and a folder, or twice there")
        names = {info.filename for info in members}
        if _CARD_JSON not in names:
            raise CardFileError(f"{where}: the archive has no {_CARD_JSON}")
        card = _decode_json(archive.read(_CARD_JSON), f"{where}: {_CARD_JSON}")
        assets = {name: archive.read(name) for name in sorted(names - {_CARD_JSON})}
    return CardFile({_CARD_JSON: card}, assets=assets)


def read_card_file(path: Path) -> CardFile:
    """Read a card from a ``.json``, ``.png`` or ``.charx`` file (by content, not name).

    Raises:
        CardFileError: the file is unreadable, damaged, or holds no card.
    """
    try:
        data = read_at_most(path, MAX_CARD_FILE_BYTES)
    except OSError as error:
        raise CardFileError(f"{path}: cannot read: {error.strerror}") from error
    if data is None:
        raise CardFileError(f"{path}: larger than {MAX_CARD_FILE_BYTES:,} bytes")
    if data.startswith(PNG_SIGNATURE):
        return _read_png(data, str(path))
    if data.startswith(b"PK"):
        return _read_charx(data, str(path))
    return CardFile({"json": _decode_json(data, str(path))})


def _base64_json(card: Mapping[str, Any]) -> str:
    text = json.dumps(card, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def write_png(image: bytes, cards: Mapping[str, Mapping[str, Any]]) -> bytes:
    """``image`` carrying ``cards`` (chunk keyword → card), base64 JSON in ``tEXt`` chunks.

    Raises:
        CardFileError: ``image`` is not a usable PNG.
    """
    try:
        return write_text_chunks(image, {k: _base64_json(c) for k, c in cards.items()})
    except PngError as error:
        raise CardFileError(f"the portrait cannot carry a card: {error}") from error


def write_charx(card: Mapping[str, Any], assets: Mapping[str, bytes]) -> bytes:
    """A CHARX archive: ``card.json`` and the assets at their paths, in a stable order.

    Raises:
        CardFileError: an asset path would point outside the archive.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_CARD_JSON, json.dumps(card, ensure_ascii=False, indent=1))
        for name in sorted(assets):
            if not _safe_member(name) or name == _CARD_JSON:
                raise CardFileError(f"asset path {name!r} cannot go in a CHARX archive")
            archive.writestr(name, assets[name])
    return buffer.getvalue()
