"""``botkit characters import`` and ``export``: card files to character YAML and back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from botkit.atomic_files import write_atomically
from botkit.cards.files import CardFileError, read_card_file, write_charx, write_png
from botkit.cards.mapping import CardMappingError, card_to_yaml, yaml_to_card

__all__ = ["FORMATS", "CardConversionError", "Exported", "Imported", "export_card", "import_card"]

FORMATS = ("json", "png", "charx")


class CardConversionError(Exception):
    """A card could not be imported or exported; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import wrote: the character file and the files that came with it."""

    character_id: str
    path: Path
    files: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class Exported:
    """What an export wrote."""

    path: Path
    spec: str


def import_card(
    source: Path, out_dir: Path, *, character_id: str | None = None, overwrite: bool = False
) -> Imported:
    """Turn the card in ``source`` into ``out_dir/<id>.yaml`` (with its portrait and assets).

    Raises:
        CardConversionError: the file holds no readable card, or the YAML exists already.
    """
    try:
        found = read_card_file(source)
    except CardFileError as error:
        raise CardConversionError(str(error)) from error
    try:
        character = card_to_yaml(found.card, character_id=character_id)
    except CardMappingError as error:
        raise CardConversionError(f"{source}: {error}") from error
    cid = character["id"]
    target = out_dir / f"{cid}.yaml"
    if target.exists() and not overwrite:
        raise CardConversionError(f"{target} exists already (choose another --id or --force)")
    written: list[Path] = []
    kept: dict[str, Any] = character["card"]
    if found.image is not None:
        image = out_dir / f"{cid}.png"
        write_atomically(image, found.image)
        kept["image"] = image.name
        written.append(image)
    if found.assets:
        folder = f"{cid}.assets"
        for name, data in found.assets.items():
            path = out_dir / folder / PurePosixPath(name)
            write_atomically(path, data)
            written.append(path)
        kept["files"] = folder
    text = yaml.safe_dump(character, sort_keys=False, allow_unicode=True, width=100)
    write_atomically(target, text.encode("utf-8"))
    return Imported(cid, target, tuple(written))


def _assets(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def export_card(source: Path, out: Path, *, fmt: str = "json", spec: str | None = None) -> Exported:
    """Write the character in YAML file ``source`` as a card file ``out``.

    PNG needs the portrait kept at import (or a ``card.image`` file next to the YAML);
    a V3 PNG carries both ``ccv3`` and a V2 ``chara`` chunk, as readers expect.

    Raises:
        CardConversionError: the YAML is unreadable, or the format needs a missing file.
    """
    if fmt not in FORMATS:
        raise CardConversionError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        character = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise CardConversionError(f"{source}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise CardConversionError(f"{source}: not valid YAML: {error}") from error
    if not isinstance(character, dict) or not isinstance(character.get("name"), str):
        raise CardConversionError(f"{source}: not a character file (no name)")
    try:
        card = yaml_to_card(character, spec=spec)
    except CardMappingError as error:
        raise CardConversionError(f"{source}: {error}") from error
    wanted = spec or (character.get("card") or {}).get("spec", "v3")
    kept = character.get("card") or {}
    if fmt == "json":
        data = json.dumps(card, ensure_ascii=False, indent=2).encode("utf-8")
    elif fmt == "png":
        if "image" not in kept:
            raise CardConversionError(f"{source}: no portrait to carry the card (card.image)")
        chunks = {"chara": yaml_to_card(character, spec="v2") if wanted == "v3" else card}
        if wanted == "v3":
            chunks["ccv3"] = card
        try:
            data = write_png((source.parent / kept["image"]).read_bytes(), chunks)
        except (OSError, CardFileError) as error:
            raise CardConversionError(f"{source}: portrait {kept['image']!r}: {error}") from error
    else:
        folder = source.parent / kept["files"] if "files" in kept else None
        data = write_charx(card, _assets(folder) if folder and folder.is_dir() else {})
    write_atomically(out, data)
    return Exported(out, wanted)
