"""Packs that break a rule are refused whole, every problem named, the old version kept."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from botkit.characters import load_pack
from botkit.pack_install import PackError, PackInstaller
from tests.packs.conftest import Repo, pack_files, running

BIG_PNG = b"\x89PNG\r\n\x1a\n" + bytes(4 * 1024 * 1024)


def snapshot(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


async def refused(installer: PackInstaller, target: str, *, update: bool = False) -> list[str]:
    with pytest.raises(PackError) as caught:
        await (installer.update(target) if update else installer.install(target))
    return caught.value.problems


async def test_a_bad_version_is_refused_whole_and_the_installed_one_keeps_working(
    cove_repo: Repo, data_dir: Path, pack_dir: Path
) -> None:
    installer = PackInstaller(data_dir)
    await installer.install(f"{cove_repo.url}@v1.0.0")
    installed = data_dir / "packs" / "cove"
    files_before = snapshot(installed)
    lock_before = (data_dir / "packs.lock").read_bytes()

    manifest = pack_files()["pack.yaml"].replace(
        "characters: [tess.yaml, orin.yaml]", "characters: [tess.yaml, orin.yaml, ../x.yaml]"
    )
    cove_repo.link("passwd.yaml", "/etc/passwd")
    cove_repo.link("outside.md", "../outside")
    cove_repo.commit(
        {
            "pack.yaml": manifest,
            "orin.yaml": "id: orin\nname: [Orin\npersona: broken\n",
            "art/avatar.png": BIG_PNG,
        },
        "bad",
        tag="v2.0.0",
    )

    problems = await refused(installer, "cove@v2.0.0", update=True)
    assert problems == [
        "art/avatar.png: over 4 MiB, the most any pack file may hold (not downloaded)",
        "outside.md: a symbolic link (to ../outside, outside the pack); "
        "packs may not contain links",
        "passwd.yaml: a symbolic link (to /etc/passwd, outside the pack); "
        "packs may not contain links",
        "pack.yaml:4: characters[2]: '../x.yaml' points outside the pack folder",
        "orin.yaml:3: invalid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence on line 2)",
    ]
    assert snapshot(installed) == files_before
    assert (data_dir / "packs.lock").read_bytes() == lock_before
    assert [c.id for c in load_pack(installed).characters] == ["tess", "orin"]
    async with running(data_dir, pack_dir) as (app, _):
        assert app.characters.get("tess") is not None


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"tools/build.py": "print('hi')\n"}, "tools/build.py: '.py' files are not allowed"),
        ({"run.sh": "echo hi\n"}, "run.sh: '.sh' files are not allowed"),
        ({"lib/native.so": b"\x7fELF\x02"}, "lib/native.so: '.so' files are not allowed"),
        ({"Makefile": "all:\n"}, "Makefile: files without a data suffix are not allowed"),
        ({"notes.txt": "#!/bin/sh\nrm -rf /\n"}, "notes.txt: looks like a program (a '#!' script)"),
        ({"lore.yaml": "x" * (512 * 1024 + 1)}, "lore.yaml: 524,289 bytes, over the 512 KiB limit"),
    ],
)
async def test_programs_and_oversized_text_are_refused(
    make_repo: Callable[[str], Repo], data_dir: Path, files: dict[str, str | bytes], problem: str
) -> None:
    repo = make_repo("sneaky")
    repo.commit({**pack_files(), **files}, "sneaky")
    problems = await refused(PackInstaller(data_dir), repo.url)
    assert any(line.startswith(problem) for line in problems), problems
    assert not (data_dir / "packs" / "cove").exists()
    assert not (data_dir / "packs.lock").exists()


async def test_git_hooks_never_run(
    make_repo: Callable[[str], Repo],
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = tmp_path / "hook-ran"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for name in ("post-checkout", "post-merge", "reference-transaction"):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
        hook.chmod(0o755)
    repo = make_repo("hooked")
    repo.commit(pack_files(), "first", tag="v1.0.0")
    for name in ("post-checkout", "post-merge"):
        (repo.path / ".git" / "hooks" / name).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (repo.path / ".git" / "hooks" / name).chmod(0o755)
    settings = tmp_path / "gitconfig"
    settings.write_text(f"[core]\n\thooksPath = {hooks}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(settings))

    repo.git("clone", "-q", repo.url, str(tmp_path / "plain-clone"))
    assert marker.exists(), "a plain clone runs the configured hook (the test's premise)"
    marker.unlink()

    installer = PackInstaller(data_dir)
    await installer.install(f"{repo.url}@v1.0.0")
    await installer.install(f"{repo.url}@{repo.rev('v1.0.0')}")
    await installer.install(repo.url)
    assert not marker.exists()


async def test_the_file_count_and_total_size_limits_refuse_a_pack(
    make_repo: Callable[[str], Repo], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("botkit.pack_install.validate.MAX_FILES", 3)
    monkeypatch.setattr("botkit.pack_install.validate.MAX_PACK_BYTES", 100)
    repo = make_repo("large")
    repo.commit(pack_files(), "large")
    problems = await refused(PackInstaller(data_dir), repo.url)
    assert problems == [
        "pack: more than 3 files (the limit)",
        problems[1],
        "pack: the characters were not checked (fix the problems above first)",
    ]
    assert problems[1].startswith("pack: ") and problems[1].endswith(
        " bytes in all, over the 100 bytes limit"
    )
