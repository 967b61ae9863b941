"""Installing stays within its limits: who may read this machine, how much git may write,
what outlives a killed botkit, and one clear line for each refusal."""

from __future__ import annotations

import asyncio
import binascii
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from botkit.pack_install import PackError, PackInstaller
from botkit.pack_install.child import folder_bytes
from botkit.pack_install.git import Git
from tests.packs.conftest import GIT_ENV, Repo, pack_files, running, write_files
from tests.packs.test_app import ANN, KEEPER, answer, command


async def refused(installer: PackInstaller, target: str) -> list[str]:
    with pytest.raises(PackError) as caught:
        await installer.install(target)
    return caught.value.problems


async def test_only_the_owner_installs_from_this_machine_and_answers_are_bounded(
    tmp_path: Path, data_dir: Path, pack_dir: Path
) -> None:
    junk = tmp_path / "home"
    write_files(junk, {f"secret-{n:03}.key": "x" for n in range(300)})
    async with running(data_dir, pack_dir, ["test:*"], ["test:u-keeper"]) as (app, adapter):
        for target in (str(junk), junk.as_uri(), "/root", "../../etc"):
            reply = await answer(app, adapter, command(ANN, "pack", "install", target))
            assert reply == (
                "Cannot do that: /pack install from a folder or repository on this machine is "
                "only for the bot's owner (owners in the config); others install from a git URL"
            )
        reply = await answer(app, adapter, command(KEEPER, "pack", "install", str(junk)))
    lines = reply.splitlines()
    assert len(lines) == 25
    assert lines[0] == "Cannot do that: /pack install refused:"
    assert lines[-1].startswith("… and ") and lines[-1].endswith(" more lines (in the debug log)")


async def test_an_oversized_file_is_never_downloaded_or_written(
    make_repo: Callable[[str], Repo], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo("heavy")
    repo.commit({**pack_files(), "art/huge.png": os.urandom(5 * 1024 * 1024)}, "heavy")
    staged: list[int] = []
    run = Git._run

    async def measured(self: Git, command: str, *args: str, **options: object) -> str:
        out = await run(self, command, *args, **options)  # type: ignore[arg-type]
        staged.append(folder_bytes(str(data_dir / "packs" / ".staging")))
        return out

    monkeypatch.setattr(Git, "_run", measured)
    problems = await refused(PackInstaller(data_dir), repo.url)
    assert problems[0] == (
        "art/huge.png: over 4 MiB, the most any pack file may hold (not downloaded)"
    )
    assert max(staged) < 1024 * 1024


async def test_a_download_past_the_staging_limit_is_stopped(
    make_repo: Callable[[str], Repo], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("botkit.pack_install.git.MAX_STAGING_BYTES", 64 * 1024)
    repo = make_repo("wide")
    repo.commit({**pack_files(), **{f"art/{n}.png": os.urandom(40_000) for n in range(4)}}, "w")
    [problem] = await refused(PackInstaller(data_dir), repo.url)
    assert problem == (
        "git clone stopped: the download passed 64 KiB, more than a pack may hold (32 MiB)"
    )
    assert not (data_dir / "packs" / "wide").exists()


def _climb(repo: Repo) -> None:
    """Commit a tree holding an entry called ``..`` (git itself refuses to write one)."""

    def git(*args: str, data: bytes | None = None) -> bytes:
        return subprocess.run(
            ["git", "-C", str(repo.path), *args],
            input=data,
            capture_output=True,
            env={**os.environ, **GIT_ENV},
            check=True,
        ).stdout.strip()

    blob = git("rev-parse", "HEAD:README.md").decode()
    inner = git("mktree", data=f"100644 blob {blob}\tx.md\n".encode()).decode()
    listing = git("cat-file", "tree", "HEAD^{tree}")
    evil = b"40000 ..\0" + binascii.unhexlify(inner) + listing
    tree = git("hash-object", "-w", "-t", "tree", "--literally", "--stdin", data=evil).decode()
    commit = git("commit-tree", tree, "-p", "HEAD", "-m", "climb").decode()
    git("update-ref", "refs/heads/main", commit)


async def test_a_tree_entry_leaving_the_pack_is_named_in_one_line(
    make_repo: Callable[[str], Repo], data_dir: Path
) -> None:
    repo = make_repo("climber")
    repo.commit(pack_files(), "first")
    _climb(repo)
    problems = await refused(PackInstaller(data_dir), repo.url)
    assert problems == [
        "../x.md: a path that leads out of the pack or into git's own folder; "
        "git refuses to write it"
    ]


async def test_an_absolute_link_with_a_relative_data_folder_is_refused_in_one_line(
    make_repo: Callable[[str], Repo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo("linked")
    repo.link("passwd.yaml", "/etc/passwd")
    repo.commit(pack_files(), "linked")
    monkeypatch.chdir(tmp_path)
    problems = await refused(PackInstaller(Path("relative-data")), repo.url)
    assert problems[0] == (
        "passwd.yaml: a symbolic link (to /etc/passwd, outside the pack); "
        "packs may not contain links"
    )


_KILLED_MIDWAY = """
import asyncio, sys
from pathlib import Path
from botkit.pack_install import PackInstaller
from botkit.pack_install.git import Git

installer = PackInstaller(Path(sys.argv[1]), git=Git(executable=sys.argv[2]))
asyncio.run(installer.install(sys.argv[3]))
"""


async def test_git_dies_with_a_killed_botkit_and_its_staging_is_swept_at_start(
    tmp_path: Path, data_dir: Path, pack_dir: Path
) -> None:
    pid_file = tmp_path / "git.pid"
    fake_git = tmp_path / "git"
    fake_git.write_text(
        f"#!/bin/sh\necho $$ > {pid_file}.tmp\nmv {pid_file}.tmp {pid_file}\nexec sleep 300\n"
    )
    fake_git.chmod(0o755)
    botkit = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _KILLED_MIDWAY, str(data_dir), str(fake_git), "https://h/p.git"
    )
    try:
        for _ in range(600):
            if pid_file.exists() or botkit.returncode is not None:
                break
            await _pause()
        git_pid = int(pid_file.read_text())
        (data_dir / "packs" / ".staging" / "left-over").mkdir(parents=True)
    finally:
        botkit.send_signal(signal.SIGKILL)
        await botkit.wait()
    for _ in range(600):
        if not _alive(git_pid):
            break
        await _pause()
    assert not _alive(git_pid)
    async with running(data_dir, pack_dir):
        assert not (data_dir / "packs" / ".staging").exists()


async def _pause() -> None:
    await asyncio.sleep(0.05)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
