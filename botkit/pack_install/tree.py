"""Checking a fetched commit's file list before anything is written out of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from botkit.pack_install.limits import MAX_FILES, MAX_IMAGE_BYTES, MAX_PACK_BYTES
from botkit.pack_install.validate import size_text

__all__ = ["TreeCheck", "TreeFile", "check_tree"]

_LINK_MODE = "120000"


@dataclass(frozen=True, slots=True)
class TreeFile:
    """One file of a commit: its path, git mode, and size (None: left on the server for
    being over :data:`MAX_IMAGE_BYTES`, the most any pack file may hold)."""

    path: str
    mode: str
    size: int | None


@dataclass(frozen=True, slots=True)
class TreeCheck:
    """What the file list says: ``refused`` stops the checkout (git could not write the
    files, or they are over the pack limits); ``left_out`` names files not downloaded for
    their size, each with its problem, to check out without them and report."""

    refused: list[str]
    left_out: dict[str, str]


def check_tree(files: Sequence[TreeFile]) -> TreeCheck:
    """Whether the commit's files may be checked out, and which must be left out."""
    refused: list[str] = []
    left_out: dict[str, str] = {}
    total = 0
    for file in files:
        if _escapes(file.path):
            refused.append(
                f"{file.path}: a path that leads out of the pack or into git's own folder; "
                "git refuses to write it"
            )
        elif file.size is None:
            left_out[file.path] = (
                f"{file.path}: over {size_text(MAX_IMAGE_BYTES)}, the most any pack file may "
                "hold (not downloaded)"
            )
        elif file.mode != _LINK_MODE:
            total += file.size
    if len(files) > MAX_FILES:
        refused.append(f"pack: more than {MAX_FILES:,} files (the limit)")
    if total > MAX_PACK_BYTES:
        refused.append(f"pack: {total:,} bytes in all, over the {size_text(MAX_PACK_BYTES)} limit")
    return TreeCheck(refused, left_out)


def _escapes(path: str) -> bool:
    """Whether ``path`` is absolute, climbs with ``..``, or names a ``.git`` folder."""
    parts = PurePosixPath(path).parts
    return (
        path.startswith("/")
        or "\\" in path
        or any(part in ("..", ".") or part.casefold() == ".git" for part in parts)
        or "" in path.split("/")
    )
