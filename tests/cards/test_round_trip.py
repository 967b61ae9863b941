"""Import a card file to YAML, export it back, and get an equal card, field by field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from botkit.cards.convert import CardConversionError, export_card, import_card
from botkit.cards.files import read_card_file, write_charx, write_png
from tests.cards.test_files import tiny_png
from tests.cards.test_mapping import V2, V3


def v2_form_of(card: dict[str, Any]) -> dict[str, Any]:
    """The V2 card a reader writes beside a V3 one in the ``chara`` chunk."""
    v2_fields = set(V2["data"])
    return {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {k: copy.deepcopy(v) for k, v in card["data"].items() if k in v2_fields},
    }


def round_trip(tmp_path: Path, original: Path, fmt: str) -> Path:
    imported = import_card(original, tmp_path / "pack")
    out = tmp_path / f"out.{fmt}"
    export_card(imported.path, out, fmt=fmt)
    return out


def test_v2_json(tmp_path: Path) -> None:
    original = tmp_path / "mira.json"
    original.write_text(json.dumps(V2))
    out = round_trip(tmp_path, original, "json")
    assert json.loads(out.read_text()) == V2


def test_v2_png(tmp_path: Path) -> None:
    original = tmp_path / "mira.png"
    original.write_bytes(write_png(tiny_png(), {"chara": V2}))
    out = round_trip(tmp_path, original, "png")
    found = read_card_file(out)
    assert found.cards == {"chara": V2}
    assert found.image is not None and found.image.startswith(tiny_png()[:33])


def test_v3_png_with_both_chunks(tmp_path: Path) -> None:
    chunks = {"chara": v2_form_of(V3), "ccv3": V3}
    original = tmp_path / "mira.png"
    original.write_bytes(write_png(tiny_png(), chunks))
    imported = import_card(original, tmp_path / "pack")
    assert yaml.safe_load(imported.path.read_text())["nicknames"] == ["Mira Quell"]
    out = tmp_path / "out.png"
    export_card(imported.path, out, fmt="png")
    assert read_card_file(out).cards == chunks


def test_charx_with_assets(tmp_path: Path) -> None:
    assets = {"assets/icon/images/main.png": tiny_png(), "assets/other/lore.txt": b"notes"}
    original = tmp_path / "mira.charx"
    original.write_bytes(write_charx(V3, assets))
    imported = import_card(original, tmp_path / "pack")
    assert (tmp_path / "pack" / "mira.assets" / "assets" / "other" / "lore.txt").read_bytes() == (
        b"notes"
    )
    out = round_trip(tmp_path / "again", original, "charx")
    found = read_card_file(out)
    assert found.card == V3 and found.assets == assets
    assert imported.character_id == "mira"


def test_an_import_never_overwrites_without_asking(tmp_path: Path) -> None:
    original = tmp_path / "mira.json"
    original.write_text(json.dumps(V2))
    import_card(original, tmp_path / "pack")
    with pytest.raises(CardConversionError, match="exists already"):
        import_card(original, tmp_path / "pack")
    assert import_card(original, tmp_path / "pack", character_id="mira-2").path.name == (
        "mira-2.yaml"
    )


def test_a_png_export_needs_a_portrait(tmp_path: Path) -> None:
    original = tmp_path / "mira.json"
    original.write_text(json.dumps(V2))
    imported = import_card(original, tmp_path / "pack")
    with pytest.raises(CardConversionError, match="no portrait"):
        export_card(imported.path, tmp_path / "out.png", fmt="png")
    with pytest.raises(CardConversionError, match="--format"):
        export_card(imported.path, tmp_path / "out.gif", fmt="gif")


def test_the_cli_imports_checks_and_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from botkit.cli import main

    chunks = {"chara": v2_form_of(V3), "ccv3": V3}
    original = tmp_path / "mira.png"
    original.write_bytes(write_png(tiny_png(), chunks))
    pack = tmp_path / "pack"
    assert main(["characters", "import", str(original), "--out", str(pack)]) == 0
    assert f"wrote {pack / 'mira.yaml'}" in capsys.readouterr().err
    assert main(["characters", "check", str(pack / "mira.yaml")]) == 0
    out = tmp_path / "back.png"
    assert (
        main(
            ["characters", "export", str(pack / "mira.yaml"), "--format", "png", "--out", str(out)]
        )
        == 0
    )
    assert read_card_file(out).cards == chunks
    as_v2 = tmp_path / "v2.json"
    assert (
        main(["characters", "export", str(pack / "mira.yaml"), "--spec", "v2", "--out", str(as_v2)])
        == 0
    )
    assert json.loads(as_v2.read_text())["spec"] == "chara_card_v2"
    capsys.readouterr()
    assert main(["characters", "import", str(original), "--out", str(pack)]) == 1
    [error] = capsys.readouterr().err.strip().splitlines()
    assert error.startswith("botkit: error: ") and "exists already" in error
