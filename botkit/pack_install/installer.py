"""Installing, updating and removing packs under a data folder, one operation at a time.

A pack is fetched into ``data_dir/packs/.staging``, checked whole, and only then moved to
``data_dir/packs/NAME`` (the previous version stays in place until the new one is valid)
and recorded in ``data_dir/packs.lock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

from botkit.pack_install.copy import copy_folder
from botkit.pack_install.errors import PackError
from botkit.pack_install.git import Git, Resolved
from botkit.pack_install.limits import GIT_METADATA
from botkit.pack_install.lock import (
    PACKS_FOLDER,
    LockEntry,
    describe_ref,
    pack_folder,
    read_lock,
    write_lock,
)
from botkit.pack_install.source import PackSource, parse_source
from botkit.pack_install.validate import validate_pack

__all__ = ["InstallResult", "PackInstaller"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
STAGING = ".staging"
GUARD = ".lock"


@dataclass(frozen=True, slots=True)
class InstallResult:
    """What an install or update did: the pack now installed, and the one it replaced."""

    entry: LockEntry
    previous: LockEntry | None
    changed: bool = True

    def describe(self) -> str:
        """One line for people: installed, updated, or already up to date."""
        now, before = self.entry, self.previous
        if not self.changed:
            return f"{now.name} {now.version} is up to date (commit {now.short_commit})"
        if before is None:
            return f"installed {now.name} {now.version} (commit {now.short_commit})"
        return (
            f"updated {now.name} {before.version} → {now.version} "
            f"(commit {before.short_commit} → {now.short_commit})"
        )


class PackInstaller:
    """Installs packs from git or folders into ``data_dir``; see the module docstring.

    ``progress`` receives one line per step (cloning, validating …). Operations run one at
    a time in this process, and a file lock refuses a second botkit working on the same
    data folder meanwhile.
    """

    def __init__(
        self, data_dir: Path, *, progress: Progress | None = None, git: Git | None = None
    ) -> None:
        self.data_dir = data_dir
        self._progress = progress or (lambda message: log.info("%s", message))
        self._git = git or Git()
        self._busy = asyncio.Lock()

    def installed(self) -> list[LockEntry]:
        """The installed packs, in the order they were installed.

        Raises:
            PackError: the lock file is unreadable.
        """
        return list(read_lock(self.data_dir).values())

    async def install(self, text: str, *, base: Path | None = None) -> InstallResult:
        """Install ``SOURCE[@REF]`` (a relative folder is taken from ``base``).

        A pack of the same name is replaced once the new one has passed every check.

        Raises:
            PackError: the source cannot be fetched, or the pack is refused (every reason).
        """
        source = parse_source(text, base=base)
        async with self._exclusive():
            return await self._install(source, None, None)

    async def update(self, target: str | None = None) -> list[InstallResult]:
        """Update ``NAME`` (every pack when None) to the newest commit of its ref.

        ``NAME@REF`` moves the pack to another branch, tag or commit.

        Raises:
            PackError: no such pack, or the new version cannot be fetched or is refused.
        """
        name, at, ref = (target or "").partition("@")
        if at and not ref:
            raise PackError(f"{target}: expected NAME@REF")
        async with self._exclusive():
            entries = read_lock(self.data_dir)
            if target is None:
                names = list(entries)
            elif name in entries:
                names = [name]
            else:
                raise PackError(f"no installed pack called {name!r}; 'botkit pack list' shows them")
            return [await self._update(entries[n], ref or None) for n in names]

    async def remove(self, name: str) -> LockEntry:
        """Uninstall ``name``: its files and its lock entry.

        Raises:
            PackError: no pack of that name is installed.
        """
        async with self._exclusive():
            return await asyncio.to_thread(self._remove, name)

    async def _update(self, entry: LockEntry, ref: str | None) -> InstallResult:
        kind: Literal["git", "folder"] = "folder" if entry.ref_kind == "folder" else "git"
        source = PackSource(entry.source, kind, entry.ref).with_ref(ref)
        if source.kind == "folder":
            return await self._install(source, None, entry)
        self._progress(f"checking {source} …")
        wanted = await self._git.resolve(source.url, source.ref)
        if wanted.commit == entry.commit and source.ref == entry.ref:
            return InstallResult(entry, entry, changed=False)
        return await self._install(source, wanted, entry)

    async def _install(
        self, source: PackSource, wanted: Resolved | None, current: LockEntry | None
    ) -> InstallResult:
        """Fetch into staging, validate, then activate; ``current`` is the pack being updated."""
        staging = self.data_dir / PACKS_FOLDER / STAGING / uuid.uuid4().hex
        tree = staging / "tree"
        staging.mkdir(parents=True)
        try:
            found: list[str] = []
            if source.kind == "git":
                if wanted is None:
                    self._progress(f"resolving {source} …")
                    wanted = await self._git.resolve(source.url, source.ref)
                self._progress(f"cloning {source.url} ({describe_ref(wanted.kind, wanted.name)}) …")
                fetched = await self._git.checkout(source.url, wanted, tree)
                commit, found = fetched.commit, fetched.problems
                await asyncio.to_thread(_drop_git_metadata, tree)
                ref_kind: str = wanted.kind
            else:
                self._progress(f"copying {source.location} …")
                skip = self.data_dir.resolve()
                found = await asyncio.to_thread(copy_folder, Path(source.location), tree, skip=skip)
                ref_kind = "folder"
            valid = await asyncio.to_thread(
                validate_pack, tree, problems=found, progress=self._progress
            )
            if source.kind == "folder":
                commit = valid.digest
            name = valid.pack.name
            if current is not None and name != current.name:
                raise PackError(
                    f"pack.yaml: name: the pack is now called {name!r}, not {current.name!r}; "
                    f"remove {current.name} and install it again"
                )
            if current is not None and current.commit == commit and current.ref == source.ref:
                return InstallResult(current, current, changed=False)
            entry = LockEntry(
                name=name,
                source=source.location,
                ref=source.ref,
                ref_kind=ref_kind,
                commit=commit,
                version=valid.pack.version,
                installed_at=datetime.now(UTC).isoformat(timespec="seconds"),
                files=dict(valid.files),
            )
            previous = await asyncio.to_thread(self._activate, tree, entry, staging)
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)
        return InstallResult(entry, previous)

    def _activate(self, tree: Path, entry: LockEntry, staging: Path) -> LockEntry | None:
        """Swap the validated ``tree`` in for the installed version and record it in the lock.

        If anything fails, the previous version and the lock are left as they were.
        """
        _make_plain(tree)
        entries = read_lock(self.data_dir)
        previous = entries.get(entry.name)
        target = pack_folder(self.data_dir, entry.name)
        backup = staging / "previous"
        had = os.path.lexists(target)
        if had:
            os.rename(target, backup)
        try:
            os.rename(tree, target)
            entries[entry.name] = entry
            write_lock(self.data_dir, entries)
        except BaseException:
            if os.path.lexists(target) and not os.path.lexists(tree):
                os.rename(target, tree)
            if had:
                os.rename(backup, target)
            raise
        return previous

    def _remove(self, name: str) -> LockEntry:
        entries = read_lock(self.data_dir)
        entry = entries.pop(name, None)
        if entry is None:
            raise PackError(f"no installed pack called {name!r}; 'botkit pack list' shows them")
        target = pack_folder(self.data_dir, name)
        trash = self.data_dir / PACKS_FOLDER / STAGING / uuid.uuid4().hex
        trash.parent.mkdir(parents=True, exist_ok=True)
        moved = os.path.lexists(target)
        if moved:
            os.rename(target, trash)
        try:
            write_lock(self.data_dir, entries)
        except BaseException:
            if moved:
                os.rename(trash, target)
            raise
        shutil.rmtree(trash, ignore_errors=True)
        return entry

    async def sweep(self) -> None:
        """Remove what an interrupted operation left in staging (a botkit killed mid-install),
        unless another botkit is working on this data folder's packs right now."""
        if not (self.data_dir / PACKS_FOLDER / STAGING).exists():
            return
        with contextlib.suppress(PackError):
            async with self._exclusive():
                return

    @contextlib.asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """Hold this installer and the data folder's pack lock; clear stale staging first."""
        async with self._busy:
            guard = self._acquire()
            try:
                await asyncio.to_thread(shutil.rmtree, self.data_dir / PACKS_FOLDER / STAGING, True)
                yield
            finally:
                guard.close()

    def _acquire(self) -> IO[str]:
        folder = self.data_dir / PACKS_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        guard = open(folder / GUARD, "a", encoding="utf-8")  # noqa: SIM115 (held until released)
        try:
            fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            guard.close()
            raise PackError(
                f"another botkit is changing the packs in {self.data_dir}; try again later"
            ) from None
        return guard


def _drop_git_metadata(tree: Path) -> None:
    """Remove ``.git`` and git's own top-level files once the commit is known."""
    shutil.rmtree(tree / ".git")
    for name in GIT_METADATA:
        path = tree / name
        if path.is_file() and not path.is_symlink():
            path.unlink()


def _make_plain(tree: Path) -> None:
    """Files readable and never executable, folders listable: data, whatever git said."""
    for folder, subfolders, files in os.walk(tree):
        for name in subfolders:
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
