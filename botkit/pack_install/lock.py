"""The lock file ``data_dir/packs.lock``: what is installed, from where, at which commit."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from botkit.atomic_files import write_atomically
from botkit.pack_install.errors import PackError

__all__ = [
    "LOCK_NAME",
    "PACKS_FOLDER",
    "LockEntry",
    "describe_ref",
    "installed_pack_folders",
    "lock_path",
    "pack_folder",
    "read_lock",
    "write_lock",
]

LOCK_NAME = "packs.lock"
PACKS_FOLDER = "packs"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class LockEntry:
    """One installed pack.

    ``ref`` is the ref asked for (None follows the default branch) and ``ref_kind`` what
    it named (``default``, ``branch``, ``tag``, ``commit``, or ``folder`` for a copied
    folder); ``commit`` is the commit installed (a folder's content sha256); ``files``
    maps each file's path in the pack to its sha256.
    """

    name: str
    source: str
    ref: str | None
    ref_kind: str
    commit: str
    version: str
    installed_at: str
    files: Mapping[str, str] = field(default_factory=dict)

    @property
    def short_commit(self) -> str:
        """The first seven characters of the commit, as git shows it."""
        return self.commit[:7]

    def describe(self) -> str:
        """One line for people: name, version, source, ref and short commit."""
        return (
            f"{self.name} {self.version} from {self.source} "
            f"({describe_ref(self.ref_kind, self.ref)}, commit {self.short_commit})"
        )


def describe_ref(kind: str, name: str | None) -> str:
    """How a ref reads in messages: ``tag v1.0.0``, ``branch main``, ``default branch``."""
    match kind:
        case "default":
            return f"default branch {name}" if name else "default branch"
        case "commit":
            return "pinned commit"
        case "folder":
            return "folder"
        case _:
            return f"{kind} {name}"


def lock_path(data_dir: Path) -> Path:
    """Where the lock file of ``data_dir`` lives."""
    return data_dir / LOCK_NAME


def pack_folder(data_dir: Path, name: str) -> Path:
    """The folder an installed pack called ``name`` lives in."""
    return data_dir / PACKS_FOLDER / name


def read_lock(data_dir: Path) -> dict[str, LockEntry]:
    """The installed packs by name, in the order they were installed (none without a lock).

    Raises:
        PackError: the lock file cannot be read or is not a botkit pack lock.
    """
    path = lock_path(data_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PackError(f"{path}: cannot read the pack lock ({error})") from error
    try:
        entries = [_entry(item) for item in raw["packs"]]
    except (KeyError, TypeError, ValueError) as error:
        raise PackError(f"{path}: not a botkit pack lock ({error})") from error
    return {entry.name: entry for entry in entries}


def write_lock(data_dir: Path, entries: Mapping[str, LockEntry]) -> None:
    """Replace the lock file atomically: readers see the old one or the new one, whole."""
    document = {"format": FORMAT, "packs": [asdict(entry) for entry in entries.values()]}
    text = json.dumps(document, indent=2) + "\n"
    write_atomically(lock_path(data_dir), text.encode("utf-8"))


def installed_pack_folders(data_dir: Path) -> list[tuple[LockEntry, Path]]:
    """Every installed pack with its folder, in install order.

    Raises:
        PackError: the lock file is unreadable.
    """
    return [(entry, pack_folder(data_dir, name)) for name, entry in read_lock(data_dir).items()]


def _entry(item: Any) -> LockEntry:
    if not isinstance(item, dict):
        raise TypeError("each pack must be a mapping")
    known = {f.name for f in fields(LockEntry)}
    missing = known - set(item)
    if missing:
        raise ValueError(f"a pack lacks {', '.join(sorted(missing))}")
    entry = LockEntry(**{key: item[key] for key in known})
    if not isinstance(entry.name, str) or "/" in entry.name or entry.name.startswith("."):
        raise ValueError(f"bad pack name {entry.name!r}")
    return entry
