"""Where a pack comes from: ``SOURCE[@REF]`` read as a git repository or a plain folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from botkit.pack_install.errors import PackError

__all__ = ["PackSource", "is_git_repository", "is_local_source", "parse_source"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP = re.compile(r"^[\w.-]+@[\w.-]+:")
_USERINFO_ONLY = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$")


@dataclass(frozen=True, slots=True)
class PackSource:
    """A pack's origin: a git repository (``url``, optional ``ref``) or a folder to copy.

    ``location`` is what the lock records: the URL as given, or an absolute folder path.
    """

    location: str
    kind: Literal["git", "folder"]
    ref: str | None = None

    @property
    def url(self) -> str:
        """What git clones: the URL itself, or a ``file://`` URL for a local repository."""
        if self.kind == "git" and not _URL.match(self.location) and not _SCP.match(self.location):
            return Path(self.location).as_uri()
        return self.location

    def __str__(self) -> str:
        return f"{self.location}@{self.ref}" if self.ref else self.location

    def with_ref(self, ref: str | None) -> PackSource:
        """The same source at another ref (a folder has none to change)."""
        if ref is not None and self.kind == "folder":
            raise PackError(f"{self.location} is a folder, not a git repository; it has no @{ref}")
        return PackSource(self.location, self.kind, ref if ref is not None else self.ref)


def parse_source(text: str, *, base: Path | None = None) -> PackSource:
    """Read ``SOURCE[@REF]``: any URL git accepts, a local git repository, or a plain folder.

    Relative folder paths are taken from ``base`` (the current directory by default).

    Raises:
        PackError: the source or ref is malformed, or a local path does not exist.
    """
    text = text.strip()
    if not text:
        raise PackError("no source given; expected a git URL or a folder, with an optional @ref")
    if text.startswith("-"):
        raise PackError(f"{text!r} is not a source (it starts with '-')")
    location, ref = _split_ref(text, base)
    if ref is not None and (not _REF.match(ref) or ".." in ref or ref.endswith((".lock", "/"))):
        raise PackError(f"@{ref} is not a valid branch, tag or commit name")
    if _URL.match(location) or _SCP.match(location):
        return PackSource(location, "git", ref)
    folder = _local(location, base)
    if not folder.is_dir():
        raise PackError(f"{location}: no such folder, and not a git URL")
    if is_git_repository(folder):
        return PackSource(str(folder), "git", ref)
    return PackSource(str(folder), "folder").with_ref(ref)


def is_local_source(text: str) -> bool:
    """Whether ``SOURCE[@REF]`` names something on this machine (a path or a ``file:`` URL)
    rather than a remote git URL; decided from the text alone, without touching the disk."""
    text = text.strip()
    if text.lower().startswith("file:"):
        return True
    return not (_URL.match(text) or _SCP.match(text))


def is_git_repository(folder: Path) -> bool:
    """Whether ``folder`` is itself a git repository (a work tree's top or a bare one)."""
    return (folder / ".git").exists() or (
        (folder / "HEAD").is_file() and (folder / "objects").is_dir()
    )


def _local(location: str, base: Path | None) -> Path:
    path = Path(location).expanduser()
    return (path if path.is_absolute() else (base or Path.cwd()) / path).resolve()


def _split_ref(text: str, base: Path | None) -> tuple[str, str | None]:
    """``(source, ref)``: the ref follows the last ``@`` unless that ``@`` is part of the source
    (``user@host:path``, ``scheme://user@host/…``, or a local path that exists as written)."""
    head, at, tail = text.rpartition("@")
    if (
        not at
        or not head
        or not tail
        or ":" in tail
        or _USERINFO_ONLY.match(head)
        or (not _URL.match(text) and _local(text, base).exists())
    ):
        return text, None
    return head, tail
