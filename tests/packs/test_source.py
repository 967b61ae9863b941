"""Reading SOURCE[@REF]: URLs, scp-like addresses, local repositories and folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from botkit.config import ConfigError, parse_config
from botkit.pack_install import PackError, PackSource, parse_source
from tests.packs.conftest import Repo


@pytest.mark.parametrize(
    ("text", "location", "ref"),
    [
        ("https://example.invalid/org/pack.git", "https://example.invalid/org/pack.git", None),
        (
            "https://example.invalid/org/pack.git@v1.0.0",
            "https://example.invalid/org/pack.git",
            "v1.0.0",
        ),
        ("ssh://git@example.invalid/org/pack", "ssh://git@example.invalid/org/pack", None),
        ("ssh://git@example.invalid/org/pack@main", "ssh://git@example.invalid/org/pack", "main"),
        ("git@example.invalid:org/pack.git", "git@example.invalid:org/pack.git", None),
        (
            "git@example.invalid:org/pack.git@release/2",
            "git@example.invalid:org/pack.git",
            "release/2",
        ),
    ],
)
def test_urls_and_refs(text: str, location: str, ref: str | None) -> None:
    assert parse_source(text) == PackSource(location, "git", ref)


def test_local_repositories_clone_through_file_urls(
    make_repo: Callable[[str], Repo], tmp_path: Path
) -> None:
    repo = make_repo("local")
    source = parse_source("local@v1", base=tmp_path)
    assert source == PackSource(str(repo.path), "git", "v1")
    assert source.url == repo.path.as_uri()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no source given"),
        ("--upload-pack=touch /tmp/x", "it starts with '-'"),
        ("https://example.invalid/p@-x", "@-x is not a valid branch, tag or commit name"),
        ("https://example.invalid/p@a..b", "@a..b is not a valid"),
        ("/no/such/folder", "/no/such/folder: no such folder, and not a git URL"),
    ],
)
def test_bad_sources_are_refused(text: str, message: str) -> None:
    with pytest.raises(PackError, match=message.replace(".", r"\.")):
        parse_source(text)


def test_config_takes_pack_folders_and_installers(tmp_path: Path) -> None:
    config = parse_config(
        {"packs": {"folders": ["./mine"], "installers": ["discord:1234", "console:*"]}},
        base=tmp_path,
    )
    assert config.packs == (tmp_path / "mine",)
    assert config.pack_installers == frozenset({"discord:1234", "console:*"})
    assert parse_config({"packs": ["./mine"]}, base=tmp_path).pack_installers == frozenset()
    with pytest.raises(ConfigError) as caught:
        parse_config({"packs": {"installers": ["nobody"], "extra": 1}})
    assert caught.value.problems == [
        "packs.extra: unknown setting",
        "packs.installers: expected a list of platform:user-id (or platform:*) entries",
    ]
