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

from botkit.pack_install.errors import PackError
from botkit.pack_install.limits import GIT_TIMEOUT

__all__ = ["Git", "RefKind", "Resolved"]

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
_FULL_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHORT_COMMIT = re.compile(r"^[0-9a-f]{4,39}$")


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

    async def checkout(self, url: str, wanted: Resolved, dest: Path) -> str:
        """Fetch ``wanted`` shallowly into the new folder ``dest``; returns the commit checked out.

        Raises:
            PackError: git failed or took too long.
        """
        if wanted.kind == "commit":
            await self._run("init", "-q", str(dest))
            await self._run("fetch", "-q", "--depth", "1", "--", url, wanted.commit, cwd=dest)
            await self._run("checkout", "-q", "--detach", "FETCH_HEAD", cwd=dest)
        else:
            branch = () if wanted.kind == "default" else (f"--branch={wanted.name}",)
            await self._run(
                "clone",
                "-q",
                "--depth",
                "1",
                "--no-recurse-submodules",
                *branch,
                "--",
                url,
                str(dest),
            )
        return (await self._run("rev-parse", "HEAD^{commit}", cwd=dest)).strip()

    async def _run(self, command: str, *args: str, cwd: Path | None = None) -> str:
        """``git COMMAND ARGS`` with the safe settings; its standard output."""
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
            )
        except FileNotFoundError as error:
            raise PackError("git is not installed; it is needed to install from git") from error
        try:
            out, err = await asyncio.wait_for(process.communicate(), self._timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise PackError(
                f"git {command} took longer than {self._timeout:.0f} s and was stopped"
            ) from None
        detail = err.decode(errors="replace").strip()
        if process.returncode != 0:
            log.debug("git %s failed (%s): %s", command, process.returncode, detail)
            reason = detail.splitlines()[-1] if detail else f"exit status {process.returncode}"
            raise PackError(f"git {command} failed: {reason.removeprefix('fatal: ')}")
        return out.decode(errors="replace")


def _environment(base: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without git settings that could run commands, plus SAFE_ENV."""
    kept = {
        key: value
        for key, value in base.items()
        if not key.startswith("GIT_CONFIG") and key not in {"GIT_DIR", "GIT_WORK_TREE"}
    }
    return {**kept, **SAFE_ENV}
