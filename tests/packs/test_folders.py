"""Plain folders install like repositories (their content sha256 is the commit); remove."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botkit.cli import main
from botkit.pack_install import PackError, PackInstaller
from tests.packs.conftest import pack_files, write_files


def lock_names(data_dir: Path) -> list[str]:
    return [entry["name"] for entry in json.loads((data_dir / "packs.lock").read_text())["packs"]]


async def test_a_folder_installs_updates_by_content_and_is_removed(
    tmp_path: Path, data_dir: Path
) -> None:
    folder = tmp_path / "cove-folder"
    write_files(folder, pack_files())
    installer = PackInstaller(data_dir)
    result = await installer.install(str(folder))
    entry = result.entry
    assert (entry.name, entry.source, entry.ref_kind, entry.version) == (
        "cove",
        str(folder),
        "folder",
        "1.0.0",
    )
    assert len(entry.commit) == 64
    assert (data_dir / "packs" / "cove" / "tess.yaml").read_text() == (
        folder / "tess.yaml"
    ).read_text()

    assert [r.changed for r in await installer.update("cove")] == [False]
    write_files(folder, {"pack.yaml": pack_files("1.0.1")["pack.yaml"]})
    [updated] = await installer.update("cove")
    assert updated.changed and updated.entry.version == "1.0.1"
    assert updated.entry.commit != entry.commit

    removed = await installer.remove("cove")
    assert removed.name == "cove"
    assert not (data_dir / "packs" / "cove").exists()
    assert lock_names(data_dir) == []
    with pytest.raises(PackError, match="no installed pack called 'cove'"):
        await installer.remove("cove")


async def test_links_in_a_folder_are_refused_and_never_followed(
    tmp_path: Path, data_dir: Path
) -> None:
    folder = tmp_path / "linked"
    write_files(folder, pack_files())
    (folder / "secret.txt").symlink_to("/etc/passwd")
    with pytest.raises(PackError) as caught:
        await PackInstaller(data_dir).install(str(folder))
    assert caught.value.problems == [
        "secret.txt: a symbolic link (to /etc/passwd, outside the pack); "
        "packs may not contain links"
    ]
    assert not (data_dir / "packs" / "cove").exists()


async def test_a_folder_has_no_refs(tmp_path: Path, data_dir: Path) -> None:
    folder = tmp_path / "plain"
    write_files(folder, pack_files())
    with pytest.raises(PackError, match="is a folder, not a git repository; it has no @v1"):
        await PackInstaller(data_dir).install(f"{folder}@v1")


def test_remove_on_the_command_line(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "cove-folder"
    write_files(folder, pack_files())
    assert main(["pack", "install", "--data-dir", str(data_dir), str(folder)]) == 0
    assert main(["pack", "remove", "--data-dir", str(data_dir), "cove"]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == "removed cove 1.0.0"
    assert lock_names(data_dir) == []
    assert main(["pack", "list", "--data-dir", str(data_dir)]) == 0
    assert capsys.readouterr().err.strip() == "no packs are installed"
