"""Files uploaded from the playground's pages: the form field, read within a bound, and
the name the browser gave it."""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import BodyPartReader, web

__all__ = ["TooLarge", "last_part", "read_bounded", "upload_field"]


class TooLarge(Exception):
    """An upload passed its bound; ``size`` is how much had arrived by then."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes and more")
        self.size = size


async def upload_field(request: web.Request, name: str) -> BodyPartReader | None:
    """The form's first field if it is the file field ``name``; None when the request is
    no such form."""
    try:
        reader = await request.multipart()
        field = await reader.next()
    except (ValueError, AssertionError):
        return None
    return field if isinstance(field, BodyPartReader) and field.name == name else None


async def read_bounded(field: BodyPartReader, limit: int) -> bytes:
    """The field's content.

    Raises:
        TooLarge: as soon as it passes ``limit`` bytes.
    """
    data = bytearray()
    while chunk := await field.read_chunk():
        data += chunk
        if len(data) > limit:
            raise TooLarge(len(data))
    return bytes(data)


def last_part(filename: str) -> str:
    """The last part of an uploaded file's name (percent-escapes undone, as some clients
    send them; either slash separates)."""
    return unquote(filename).replace("\\", "/").rsplit("/", 1)[-1]
