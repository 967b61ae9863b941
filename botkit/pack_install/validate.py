"""Checking a fetched pack before it is activated: file kinds, sizes, links, then the YAML."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from botkit.characters import CharacterError, CharacterValidationError, Pack, load_pack
from botkit.characters.yaml_nodes import field_line
from botkit.pack_install.errors import PackError
from botkit.pack_install.limits import (
    DOCUMENT_NAMES,
    IMAGE_SUFFIXES,
    MAX_FILES,
    MAX_IMAGE_BYTES,
    MAX_PACK_BYTES,
    MAX_TEXT_BYTES,
    TEXT_SUFFIXES,
)

__all__ = [
    "PackFile",
    "ValidPack",
    "file_problem",
    "link_problem",
    "scan",
    "size_text",
    "validate_pack",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PROGRAM_STARTS = ((b"#!", "a '#!' script"), (b"\x7fELF", "an ELF binary"))


@dataclass(frozen=True, slots=True)
class PackFile:
    """One regular file of a pack: its path inside the pack (``a/b.yaml``) and size."""

    relative: str
    path: Path
    size: int


@dataclass(frozen=True, slots=True)
class ValidPack:
    """A pack that passed every check, with the sha256 of each of its files."""

    pack: Pack
    files: Mapping[str, str]

    @property
    def digest(self) -> str:
        """The sha256 of the whole content (each file's path and sha256), stable across copies."""
        lines = "".join(f"{path}\0{sha}\n" for path, sha in sorted(self.files.items()))
        return hashlib.sha256(lines.encode()).hexdigest()


def file_problem(relative: str, size: int) -> str | None:
    """Why a file of this name and size may not be in a pack, or None when it may."""
    name = relative.rsplit("/", 1)[-1]
    suffix = os.path.splitext(name)[1].lower()
    stem = os.path.splitext(name)[0].lower()
    if suffix in IMAGE_SUFFIXES:
        kind, limit = "image", MAX_IMAGE_BYTES
    elif suffix in TEXT_SUFFIXES or (stem in DOCUMENT_NAMES and suffix in ("", ".rst")):
        kind, limit = "text", MAX_TEXT_BYTES
    else:
        what = f"{suffix!r} files" if suffix else "files without a data suffix"
        return (
            f"{relative}: {what} are not allowed; a pack holds only data "
            "(YAML, JSON, Markdown, text, images, README/LICENSE), never programs"
        )
    if size > limit:
        return f"{relative}: {size:,} bytes, over the {size_text(limit)} limit for {kind} files"
    return None


def link_problem(relative: str, path: Path, root: Path) -> str:
    """The refusal of a symbolic link, saying where it points and whether that is outside."""
    target = os.readlink(path)
    landing = os.path.abspath(os.path.join(path.parent, target))
    top = os.path.abspath(root)
    outside = os.path.commonpath([landing, top]) != top
    where = f"{target}, outside the pack" if outside else target
    return f"{relative}: a symbolic link (to {where}); packs may not contain links"


def scan(root: Path) -> tuple[list[PackFile], list[str]]:
    """Every regular file under ``root`` (links never followed) and every problem found.

    Stops listing once there are more files than :data:`MAX_FILES`.
    """
    files: list[PackFile] = []
    problems: list[str] = []
    pending = [root]
    while pending and len(files) <= MAX_FILES:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                path = Path(entry.path)
                relative = path.relative_to(root).as_posix()
                if entry.is_symlink():
                    problems.append(link_problem(relative, path, root))
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                elif entry.is_file(follow_symlinks=False):
                    size = entry.stat(follow_symlinks=False).st_size
                    files.append(PackFile(relative, path, size))
                    if problem := file_problem(relative, size):
                        problems.append(problem)
                else:
                    problems.append(f"{relative}: not a regular file; packs hold files and folders")
    if len(files) > MAX_FILES:
        problems.append(f"pack: more than {MAX_FILES:,} files (the limit)")
    total = sum(file.size for file in files)
    if total > MAX_PACK_BYTES:
        problems.append(f"pack: {total:,} bytes in all, over the {size_text(MAX_PACK_BYTES)} limit")
    return files, problems


def validate_pack(
    root: Path,
    *,
    problems: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> ValidPack:
    """Check everything in the pack folder ``root``; ``problems`` adds ones already found.

    Files are read only within the pack's limits, and the YAML only when no text file is
    too large and ``pack.yaml`` is not a link, so nothing outside the pack, and nothing
    over the limits, is ever parsed.

    Raises:
        PackError: listing every problem, one per line, each naming its file.
    """
    files, found = scan(root)
    found = [*problems, *found]
    if progress is not None:
        progress(f"validating {len(files)} files …")
    within = len(files) <= MAX_FILES and sum(file.size for file in files) <= MAX_PACK_BYTES
    digests: dict[str, str] = {}
    for file in files if within else ():
        if file_problem(file.relative, file.size) is None:
            content = file.path.read_bytes()
            digests[file.relative] = hashlib.sha256(content).hexdigest()
            found += [
                f"{file.relative}: looks like a program ({what}); packs are data, never run"
                for start, what in _PROGRAM_STARTS
                if content.startswith(start)
            ]
    readable = (
        within
        and not (root / "pack.yaml").is_symlink()
        and not any(_too_large(file) for file in files)
    )
    pack: Pack | None = None
    if not readable:
        found.append("pack: the characters were not checked (fix the problems above first)")
    else:
        try:
            pack = load_pack(root)
        except CharacterValidationError as error:
            found += [_relative(problem, root) for problem in error.problems]
    if pack is not None:
        found += _pack_problems(pack, root)
    if found:
        raise PackError(found)
    assert pack is not None
    return ValidPack(pack, digests)


def _too_large(file: PackFile) -> bool:
    """Whether reading this file as YAML or text could exceed the limits."""
    suffix = os.path.splitext(file.relative)[1].lower()
    return suffix not in IMAGE_SUFFIXES and file.size > MAX_TEXT_BYTES


def _pack_problems(pack: Pack, root: Path) -> list[str]:
    """Problems load_pack leaves to installing: the name as a folder, local avatar paths."""
    problems = []
    if not _NAME.match(pack.name):
        problems.append(
            f"pack.yaml:{field_line(root / 'pack.yaml', 'name')}: name: {pack.name!r} cannot name "
            "an installed pack (letters, digits, '.', '-' or '_', at most 64)"
        )
    base = os.path.realpath(root)
    for character in pack.characters:
        avatar, source = character.avatar, character.source
        if not avatar or "://" in avatar or source is None:
            continue
        folder = os.path.realpath(source.parent)
        landing = os.path.normpath(os.path.join(folder, avatar))
        inside = Path(os.path.relpath(os.path.join(folder, source.name), base)).as_posix()
        where = f"{inside}:{field_line(source, 'avatar')}"
        if os.path.commonpath([landing, base]) != base:
            problems.append(f"{where}: avatar: {avatar!r} points outside the pack folder")
        elif not os.path.isfile(landing):
            problems.append(f"{where}: avatar: file {avatar!r} does not exist in the pack")
    return problems


def _relative(problem: CharacterError, root: Path) -> str:
    """The problem with its file named from the pack's top (not the staging folder)."""
    try:
        inside = problem.path.resolve().relative_to(root.resolve())
    except ValueError:
        return str(problem)
    return str(dataclasses.replace(problem, path=inside))


def size_text(limit: int) -> str:
    """A limit for people: 512 KiB, 4 MiB."""
    if limit >= 1024 * 1024:
        return f"{limit // (1024 * 1024)} MiB"
    return f"{limit // 1024} KiB" if limit >= 1024 else f"{limit} bytes"
