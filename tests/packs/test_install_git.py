"""`botkit pack install|list|update` from real git repositories over file:// URLs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from botkit.cli import main
from tests.packs.conftest import Repo, pack_files


def lock(data_dir: Path) -> dict[str, dict[str, object]]:
    return {
        entry["name"]: entry for entry in json.loads((data_dir / "packs.lock").read_text())["packs"]
    }


def botkit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_install_at_a_tag_pins_its_commit_then_update_moves_to_a_new_tag(
    cove_repo: Repo, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--data-dir", str(data_dir))
    code, _, err = botkit(capsys, "pack", "install", *where, f"{cove_repo.url}@v1.0.0")
    first = cove_repo.rev("v1.0.0")
    assert code == 0
    assert err.splitlines()[-1] == f"installed cove 1.0.0 (commit {first[:7]})"
    assert any(line.startswith("cloning ") for line in err.splitlines())
    assert "validating 5 files …" in err.splitlines()
    entry = lock(data_dir)["cove"]
    assert entry["commit"] == first
    assert (entry["source"], entry["ref"], entry["ref_kind"]) == (cove_repo.url, "v1.0.0", "tag")
    assert entry["version"] == "1.0.0"
    installed = data_dir / "packs" / "cove"
    assert not (installed / ".git").exists()
    assert entry["files"] == {
        path.relative_to(installed).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in installed.rglob("*")
        if path.is_file()
    }
    assert sorted(entry["files"]) == ["LICENSE", "README.md", "orin.yaml", "pack.yaml", "tess.yaml"]

    code, out, _ = botkit(capsys, "pack", "list", *where)
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["NAME", "VERSION", "SOURCE", "REF", "COMMIT"]
    assert row.split() == ["cove", "1.0.0", cove_repo.url, "v1.0.0", first[:7]]

    code, _, err = botkit(capsys, "pack", "update", *where, "cove")
    assert code == 0
    assert err.splitlines()[-1] == f"cove 1.0.0 is up to date (commit {first[:7]})"

    code, _, err = botkit(capsys, "pack", "update", *where, "cove@v1.1.0")
    second = cove_repo.rev("v1.1.0")
    assert code == 0
    assert err.splitlines()[-1] == f"updated cove 1.0.0 → 1.1.0 (commit {first[:7]} → {second[:7]})"
    entry = lock(data_dir)["cove"]
    assert (entry["commit"], entry["ref"], entry["version"]) == (second, "v1.1.0", "1.1.0")
    assert "The tide waits." in (installed / "tess.yaml").read_text()
    assert "version: 1.1.0" in (installed / "pack.yaml").read_text()
    assert list((data_dir / "packs" / ".staging").iterdir()) == []


def test_without_a_ref_update_follows_the_default_branch(
    cove_repo: Repo, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--data-dir", str(data_dir))
    assert botkit(capsys, "pack", "install", *where, str(cove_repo.path))[0] == 0
    entry = lock(data_dir)["cove"]
    assert (entry["ref"], entry["ref_kind"], entry["commit"]) == (
        None,
        "default",
        cove_repo.rev("main"),
    )
    newest = cove_repo.commit(pack_files("1.2.0"), "third")
    code, _, err = botkit(capsys, "pack", "update", *where)
    assert code == 0
    assert err.splitlines()[-1].startswith("updated cove 1.1.0 → 1.2.0")
    assert lock(data_dir)["cove"]["commit"] == newest


def test_a_full_commit_id_can_be_pinned(
    cove_repo: Repo, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = cove_repo.rev("v1.0.0")
    code, _, _ = botkit(
        capsys, "pack", "install", "--data-dir", str(data_dir), f"{cove_repo.url}@{first}"
    )
    assert code == 0
    entry = lock(data_dir)["cove"]
    assert (entry["commit"], entry["ref_kind"], entry["version"]) == (first, "commit", "1.0.0")


def test_unknown_refs_and_packs_are_one_line_errors(
    cove_repo: Repo, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--data-dir", str(data_dir))
    code, _, err = botkit(capsys, "pack", "install", *where, f"{cove_repo.url}@v9")
    assert code == 1
    assert err.splitlines()[-1] == f"botkit: error: {cove_repo.url}: no branch or tag called 'v9'"
    code, _, err = botkit(capsys, "pack", "update", *where, "nothing")
    assert code == 1
    assert err.strip() == (
        "botkit: error: no installed pack called 'nothing'; 'botkit pack list' shows them"
    )
    code, _, err = botkit(capsys, "pack", "install", *where, "file:///nowhere/at/all")
    assert code == 1
    assert err.splitlines()[-1].startswith("botkit: error: git ls-remote failed: ")
    assert not (data_dir / "packs.lock").exists()
