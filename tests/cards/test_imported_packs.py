"""An imported card is a pack to chat with at once, edits reach every exported field,
CHARX exports hold a V3 card with its portrait, and written files get normal permissions."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from botkit.cards.convert import export_card, import_card
from botkit.cards.files import read_card_file, write_png
from botkit.characters import load_pack
from botkit.conversation import avatar_url
from tests.cards.test_files import tiny_png
from tests.cards.test_mapping import V2


def with_outer_fields(card: dict[str, Any]) -> dict[str, Any]:
    """A V2 card as SillyTavern writes it: the V1 fields repeated outside ``data``."""
    data = card["data"]
    outer = {k: data[k] for k in ("name", "description", "personality", "first_mes")}
    return {**outer, **card}


def test_edited_yaml_reaches_the_outer_v1_fields_of_the_export(tmp_path: Path) -> None:
    original = tmp_path / "mira.json"
    original.write_text(json.dumps(with_outer_fields(V2)))
    imported = import_card(original, tmp_path / "pack")
    character = yaml.safe_load(imported.path.read_text())
    character["description"] = "{{char}} now keeps the lighthouse."
    character["greeting"] = "Mind the rocks, {{user}}."
    imported.path.write_text(yaml.safe_dump(character, sort_keys=False))
    out = tmp_path / "out.json"
    export_card(imported.path, out)
    card = json.loads(out.read_text())
    assert (
        card["description"] == card["data"]["description"] == ("{{char}} now keeps the lighthouse.")
    )
    assert card["first_mes"] == card["data"]["first_mes"] == "Mind the rocks, {{user}}."
    assert card["personality"] == V2["data"]["personality"]


def test_a_charx_export_holds_a_v3_card_and_the_portrait(tmp_path: Path) -> None:
    original = tmp_path / "mira.png"
    original.write_bytes(write_png(tiny_png(), {"chara": V2}))
    imported = import_card(original, tmp_path / "pack")
    out = tmp_path / "mira.charx"
    assert export_card(imported.path, out, fmt="charx").spec == "v3"
    found = read_card_file(out)
    card = found.card
    assert card["spec"] == "chara_card_v3" and card["spec_version"] == "3.0"
    assert card["data"]["group_only_greetings"] == []
    [icon] = card["data"]["assets"]
    assert icon == {
        "type": "icon",
        "uri": "embeded://assets/icon/images/main.png",
        "name": "main",
        "ext": "png",
    }
    assert (
        found.assets["assets/icon/images/main.png"] == (tmp_path / "pack" / "mira.png").read_bytes()
    )
    again = import_card(out, tmp_path / "again")
    assert yaml.safe_load(again.path.read_text())["avatar"] == (
        "mira.assets/assets/icon/images/main.png"
    )


def test_an_imported_card_is_a_pack_with_the_portrait_as_avatar(tmp_path: Path) -> None:
    folder = tmp_path / "my-cards"
    first = tmp_path / "mira.png"
    first.write_bytes(write_png(tiny_png(), {"chara": V2}))
    second = tmp_path / "bram.json"
    second.write_text(json.dumps({**V2, "data": {**V2["data"], "name": "Bram"}}))
    done = import_card(first, folder)
    assert folder / "pack.yaml" in done.files
    import_card(second, folder)
    pack = load_pack(folder)
    assert (pack.name, [c.id for c in pack.characters]) == ("my-cards", ["mira", "bram"])
    mira = pack.characters[0]
    assert mira.avatar == "mira.png"
    assert avatar_url(mira.avatar, "https://img.example/cards/") == (
        "https://img.example/cards/mira.png"
    )
    assert avatar_url(mira.avatar, None) is None


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_written_files_get_the_permissions_the_umask_allows(tmp_path: Path, mask: int) -> None:
    original = tmp_path / "mira.png"
    original.write_bytes(write_png(tiny_png(), {"chara": V2}))
    previous = os.umask(mask)
    try:
        done = import_card(original, tmp_path / "pack")
        export_card(done.path, tmp_path / "out.json")
    finally:
        os.umask(previous)
    for path in (done.path, *done.files, tmp_path / "out.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path
