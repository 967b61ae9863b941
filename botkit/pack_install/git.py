"""The system git, run safely: no hooks, prompts, submodules or unknown transports."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from botkit.pack_install.child import folder_bytes, kill_group, tie_to_parent
from botkit.pack_install.errors import PackError
from botkit.pack_install.limits import (
    GIT_TIMEOUT,
    MAX_IMAGE_BYTES,
    MAX_PACK_BYTES,
    MAX_STAGING_BYTES,
)
from botkit.pack_install.tree import TreeFile, check_tree
from botkit.pack_install.validate import size_text

__all__ = ["Fetched", "Git", "RefKind", "Resolved"]

log = logging.getLogger(__name__)

RefKind = Literal["default", "branch", "tag", "commit"]

SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.symlinks=true",
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "advice.detachedHead=false",
    "protocol.allow=never",
    *(f"protocol.{name}.allow=always" for name in ("file", "https", "http", "ssh", "git")),
)
"""Settings every git command gets: hooks point nowhere, links stay links (so they can be
refused), submodules are never fetched, and only the ordinary transports are allowed."""
SAFE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_LFS_SKIP_SMUDGE": "1",
    "LC_ALL": "C",
}
_FILTER = f"--filter=blob:limit={MAX_IMAGE_BYTES + 1}"
"""Blobs larger than any pack file may be stay on the server."""
_WATCH_SECONDS = 0.2
_FULL_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHORT_COMMIT = re.compile(r"^[0-9a-f]{4,39}$")


@dataclass(frozen=True, slots=True)
class Fetched:
    """A commit checked out, and the problems of the files left out of it."""

    commit: str
    problems: list[str]


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a requested ref names in a repository right now: its kind and commit."""

    kind: RefKind
    commit: str
    name: str
    """The branch or tag checked out (the default branch's name for ``default``)."""


class Git:
    """Runs ``git`` as a subprocess without blocking the event loop, ``timeout`` s at most."""

    def __init__(self, *, timeout: float = GIT_TIMEOUT, executable: str = "git") -> None:
        self._timeout = timeout
        self._executable = executable

    async def resolve(self, url: str, ref: str | None) -> Resolved:
        """What ``ref`` (None: the default branch) names in the repository at ``url``.

        Raises:
            PackError: the repository cannot be read, or has no such branch, tag or commit.
        """
        listing = await self._run("ls-remote", "--symref", "--", url)
        refs: dict[str, str] = {}
        default = ""
        for line in listing.splitlines():
            sha, _, name = line.partition("\t")
            if sha.startswith("ref: ") and name == "HEAD":
                default = sha.removeprefix("ref: ").removeprefix("refs/heads/")
            elif name.endswith("^{}"):
                refs[name.removesuffix("^{}")] = sha
            else:
                refs.setdefault(name, sha)
        if ref is None:
            if "HEAD" not in refs:
                raise PackError(f"{url}: the repository is empty (no default branch)")
            return Resolved("default", refs["HEAD"], default)
        kinds: tuple[tuple[RefKind, str], ...] = (("branch", "refs/heads/"), ("tag", "refs/tags/"))
        for kind, prefix in kinds:
            if prefix + ref in refs:
                return Resolved(kind, refs[prefix + ref], ref)
        if _FULL_COMMIT.match(ref):
            return Resolved("commit", ref, ref)
        if _SHORT_COMMIT.match(ref):
            raise PackError(f"@{ref}: give a commit as its full 40-character id")
        raise PackError(f"{url}: no branch or tag called {ref!r}")

    async def checkout(self, url: str, wanted: Resolved, dest: Path) -> Fetched:
        """Fetch ``wanted`` shallowly into the new folder ``dest``: the commit checked out.

        Files over :data:`MAX_IMAGE_BYTES` are never downloaded (they are left out and
        named among the problems), and nothing is written out unless the commit's file list
        is within the pack limits and every path stays inside the pack.

        Raises:
            PackError: git failed or took too long, or the commit's files are refused.
        """
        serve = _upload_pack(url)
        if wanted.kind == "commit":
            await self._run("init", "-q", str(dest))
            await self._run(
                "fetch",
                "-q",
                "--depth",
                "1",
                _FILTER,
                *serve,
                "--",
                url,
                wanted.commit,
                cwd=dest,
                watch=dest,
            )
            tip = "FETCH_HEAD"
        else:
            branch = () if wanted.kind == "default" else (f"--branch={wanted.name}",)
            await self._run(
                "clone",
                "-q",
                "--depth",
                "1",
                "--no-checkout",
                "--no-recurse-submodules",
                _FILTER,
                *serve,
                *branch,
                "--",
                url,
                str(dest),
                watch=dest,
            )
            tip = "HEAD"
        commit = (await self._run("rev-parse", f"{tip}^{{commit}}", cwd=dest)).strip()
        check = check_tree(await self._files(dest, commit))
        if check.refused:
            raise PackError(check.refused)
        await self._run("read-tree", "--reset", commit, cwd=dest)
        if check.left_out:
            await self._run("update-index", "--force-remove", "--", *check.left_out, cwd=dest)
        await self._run("checkout-index", "--all", "--quiet", cwd=dest)
        return Fetched(commit, list(check.left_out.values()))

    async def _files(self, repository: Path, commit: str) -> list[TreeFile]:
        """The files of ``commit`` with their sizes, without fetching any left-out blob."""
        listing = await self._run("ls-tree", "-r", "-z", "--full-tree", commit, cwd=repository)
        present = await self._run(
            "cat-file",
            "--batch-check=%(objectname) %(objecttype) %(objectsize)",
            "--batch-all-objects",
            cwd=repository,
        )
        sizes = {
            oid: int(size)
            for oid, kind, size in (line.split() for line in present.splitlines())
            if kind == "blob"
        }
        files = []
        for record in filter(None, listing.split("\0")):
            info, _, path = record.partition("\t")
            mode, kind, oid = info.split()
            if kind == "blob":
                files.append(TreeFile(path, mode, sizes.get(oid)))
        return files

    async def _run(
        self, command: str, *args: str, cwd: Path | None = None, watch: Path | None = None
    ) -> str:
        """``git COMMAND ARGS`` with the safe settings; its standard output.

        git runs in its own process group, killed whole when it fails, is cancelled, or
        ``watch`` (the folder it fills) grows past :data:`MAX_STAGING_BYTES`, and killed by
        the kernel if botkit itself dies.
        """
        argv = [self._executable]
        for setting in SAFE_CONFIG:
            argv += ["-c", setting]
        argv += [command, *args]
        log.debug("running %s", " ".join(argv))
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=_environment(os.environ),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                preexec_fn=tie_to_parent,
            )
        except FileNotFoundError as error:
            raise PackError("git is not installed; it is needed to install from git") from error
        finished = asyncio.ensure_future(process.communicate())
        guard = asyncio.ensure_future(_outgrown(watch)) if watch is not None else None
        try:
            done, _ = await asyncio.wait(
                {finished, *([guard] if guard else [])},
                timeout=self._timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            if not finished.done():
                kill_group(process.pid)
                await asyncio.gather(finished, return_exceptions=True)
            if guard is not None:
                guard.cancel()
        outgrown = watch is not None and (
            (guard is not None and guard in done)
            or await asyncio.to_thread(folder_bytes, str(watch)) > MAX_STAGING_BYTES
        )
        if outgrown:
            raise PackError(
                f"git {command} stopped: the download passed {size_text(MAX_STAGING_BYTES)}, "
                f"more than a pack may hold ({size_text(MAX_PACK_BYTES)})"
            )
        if finished not in done:
            raise PackError(f"git {command} took longer than {self._timeout:.0f} s and was stopped")
        out, err = finished.result()
        detail = err.decode(errors="replace").strip()
        if process.returncode != 0:
            log.debug("git %s failed (%s): %s", command, process.returncode, detail)
            raise PackError(f"git {command} failed: {_reason(detail, process.returncode)}")
        return out.decode(errors="replace")


async def _outgrown(folder: Path) -> None:
    """Return once ``folder`` holds more than :data:`MAX_STAGING_BYTES`."""
    while True:
        if await asyncio.to_thread(folder_bytes, str(folder)) > MAX_STAGING_BYTES:
            return
        await asyncio.sleep(_WATCH_SECONDS)


def _reason(detail: str, status: int | None) -> str:
    """git's own one-line reason: its first ``fatal:`` or ``error:`` line."""
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    for prefix in ("fatal: ", "error: "):
        for line in lines:
            if line.startswith(prefix):
                return line.removeprefix(prefix)
    return lines[0] if lines else f"exit status {status}"


def _upload_pack(url: str) -> tuple[str, ...]:
    """For a local repository, the upload-pack command that honours the size filter (a local
    git serves filtered fetches only when told to; remote servers decide for themselves)."""
    if url.startswith("file:") or ("://" not in url and ":" not in url):
        return ("--upload-pack=git -c uploadpack.allowFilter=true upload-pack",)
    return ()


def _environment(base: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without git settings that could run commands, plus SAFE_ENV."""
    kept = {
        key: value
        for key, value in base.items()
        if not key.startswith("GIT_CONFIG") and key not in {"GIT_DIR", "GIT_WORK_TREE"}
    }
    return {**kept, **SAFE_ENV}
