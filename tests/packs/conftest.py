"""Real git repositories and pack folders in tmp_path, built with the system git."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from botkit.app import App
from botkit.config import parse_config
from botkit.testing import InstantBackend, RecordingAdapter

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Pack Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Pack Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def pack_files(version: str = "1.0.0", *, greeting: str = "Mind the tide.") -> dict[str, str]:
    """A two-character pack called ``cove`` (ids that the shared test pack does not use)."""
    return {
        "pack.yaml": (
            f"name: cove\nversion: {version}\nsetting: A smugglers' cove.\n"
            "characters: [tess.yaml, orin.yaml]\n"
        ),
        "tess.yaml": (
            f"id: tess\nname: Tess\npersona: [Tess runs boats past the customs men.]\n"
            f"greeting: {greeting}\n"
        ),
        "orin.yaml": "id: orin\nname: Orin\npersona: [Orin keeps the cove's lantern.]\n",
        "README.md": "# Cove\n",
        "LICENSE": "CC0\n",
    }


def write_files(folder: Path, files: Mapping[str, str | bytes]) -> None:
    """Write ``files`` (path → text or bytes) under ``folder``."""
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


class Repo:
    """A git repository a test commits and tags in."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **GIT_ENV},
            check=True,
        )
        return result.stdout.strip()

    def commit(
        self, files: Mapping[str, str | bytes], message: str, *, tag: str | None = None
    ) -> str:
        write_files(self.path, files)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        if tag:
            self.git("tag", "-a", tag, "-m", tag)
        return self.rev("HEAD")

    def link(self, name: str, target: str) -> None:
        (self.path / name).symlink_to(target)

    def rev(self, ref: str) -> str:
        return self.git("rev-parse", f"{ref}^{{commit}}")


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[str], Repo]:
    return lambda name: Repo(tmp_path / name)


@pytest.fixture
def cove_repo(make_repo: Callable[[str], Repo]) -> Repo:
    """``cove`` tagged v1.0.0, then changed and tagged v1.1.0."""
    repo = make_repo("cove")
    repo.commit(pack_files("1.0.0"), "first", tag="v1.0.0")
    repo.commit(pack_files("1.1.0", greeting="The tide waits."), "second", tag="v1.1.0")
    return repo


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@asynccontextmanager
async def running(
    data_dir: Path,
    pack_dir: Path,
    installers: list[str] | None = None,
    owners: list[str] | None = None,
) -> AsyncIterator[tuple[App, RecordingAdapter]]:
    """An App on the shared test pack (and whatever is installed in ``data_dir``); the
    repositories here are local, so installing them from chat needs an owner."""
    config = parse_config(
        {
            "data_dir": str(data_dir),
            "owners": owners or [],
            "packs": {"folders": [str(pack_dir)], "installers": installers or []},
            "conversation": {"cast": ["mira"]},
            "memory": {"enabled": False},
        }
    )
    adapter = RecordingAdapter("test")
    backend = InstantBackend("Evening.")
    async with App(config, backends={backend.name: backend}, adapters={"test": adapter}) as app:
        yield app, adapter
