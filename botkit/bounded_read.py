"""Reading a file no further than a size bound, so a huge or endless file costs nothing."""

from __future__ import annotations

from pathlib import Path

__all__ = ["read_at_most"]

_CHUNK = 1 << 20


def read_at_most(path: Path, limit: int) -> bytes | None:
    """The content of ``path``, or None when it holds more than ``limit`` bytes.

    Raises:
        OSError: the file cannot be read.
    """
    parts: list[bytes] = []
    size = 0
    with path.open("rb") as file:
        while size <= limit:
            part = file.read(min(_CHUNK, limit + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
    return None if size > limit else b"".join(parts)
