"""``botkit characters import`` and ``export``: card files to character YAML and back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from botkit.atomic_files import write_atomically
from botkit.cards.asset_folder import place_folder
from botkit.cards.files import CardFileError, read_card_file, write_charx, write_png
from botkit.cards.formats import FORMATS
from botkit.cards.manifest import ManifestError, list_in_pack
from botkit.cards.mapping import CardMappingError, card_to_yaml, yaml_to_card
from botkit.cards.portrait import main_icon_path, with_portrait
from botkit.characters.errors import CharacterError
from botkit.characters.loader import check_character_text
from botkit.characters.yaml_limits import YamlTooLargeError, load_yaml, read_yaml_text

__all__ = ["FORMATS", "CardConversionError", "Exported", "Imported", "export_card", "import_card"]


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

    The YAML is checked with the same rules as ``characters check`` before anything is
    written; the assets folder appears whole or not at all. The portrait becomes the
    character's ``avatar``, and ``out_dir/pack.yaml`` lists the character (it is created
    when missing), so the folder is a pack to chat with at once.

    Raises:
        CardConversionError: the file holds no readable card, the card does not make a
            valid character, or the YAML exists already.
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
    kept: dict[str, Any] = character["card"]
    image = out_dir / f"{cid}.png"
    if found.image is not None:
        kept["image"] = image.name
    folder = out_dir / f"{cid}.assets"
    if found.assets:
        kept["files"] = folder.name
    portrait = main_icon_path(found.card, found.assets)
    if found.image is not None:
        character = _with_avatar(character, image.name)
    elif portrait is not None:
        character = _with_avatar(character, f"{folder.name}/{portrait}")
    text = yaml.safe_dump(character, sort_keys=False, allow_unicode=True, width=100)
    problems = check_character_text(text, target)
    if problems:
        raise CardConversionError(
            "\n".join(f"{source}: cannot import: {_described(problem)}" for problem in problems)
        )
    if target.exists() and not overwrite:
        raise CardConversionError(f"{target} exists already (choose another --id or --force)")
    written: list[Path] = []
    if found.image is not None:
        write_atomically(image, found.image)
        written.append(image)
    if found.assets:
        written += place_folder(folder, found.assets)
    write_atomically(target, text.encode("utf-8"))
    try:
        manifest = list_in_pack(out_dir, target.name)
    except ManifestError as error:
        raise CardConversionError(
            f"imported {cid} to {target}, but {error}; list it there by hand"
        ) from error
    return Imported(cid, target, (*written, *([manifest] if manifest else [])))


def _with_avatar(character: dict[str, Any], avatar: str) -> dict[str, Any]:
    """``character`` with ``avatar`` set, placed right after its name."""
    ordered: dict[str, Any] = {}
    for key, value in character.items():
        ordered[key] = value
        if key == "name":
            ordered["avatar"] = avatar
    return ordered


def _described(problem: CharacterError) -> str:
    """A problem in the YAML an import would write, without its (not yet written) file."""
    return f"{problem.field}: {problem.message}" if problem.field else problem.message


def _assets(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def export_card(source: Path, out: Path, *, fmt: str = "json", spec: str | None = None) -> Exported:
    """Write the character in YAML file ``source`` as a card file ``out``.

    PNG needs the portrait kept at import (or a ``card.image`` file next to the YAML);
    a V3 PNG carries both ``ccv3`` and a V2 ``chara`` chunk, as readers expect. CHARX
    always holds a V3 ``card.json``, with the portrait as its main icon asset.

    Raises:
        CardConversionError: the YAML is unreadable, or the format needs a missing file.
    """
    if fmt not in FORMATS:
        raise CardConversionError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        text = read_yaml_text(source)
    except OSError as error:
        raise CardConversionError(f"{source}: cannot read: {error.strerror}") from error
    except (UnicodeDecodeError, YamlTooLargeError) as error:
        raise CardConversionError(f"{source}: cannot read: {error}") from error
    problems = check_character_text(text, source)
    if problems:
        raise CardConversionError("\n".join(str(problem) for problem in problems))
    character = load_yaml(text)
    if not isinstance(character, dict) or not isinstance(character.get("name"), str):
        raise CardConversionError(f"{source}: not a character file (no name)")
    wanted = spec or ("v3" if fmt == "charx" else (character.get("card") or {}).get("spec", "v3"))
    try:
        card = yaml_to_card(character, spec=wanted)
    except CardMappingError as error:
        raise CardConversionError(f"{source}: {error}") from error
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
        if wanted != "v3":
            raise CardConversionError(f"--spec: a CHARX archive holds a V3 card, not {wanted}")
        folder = source.parent / kept["files"] if "files" in kept else None
        assets = _assets(folder) if folder and folder.is_dir() else {}
        if "image" in kept:
            try:
                portrait = (source.parent / kept["image"]).read_bytes()
            except OSError as error:
                raise CardConversionError(
                    f"{source}: portrait {kept['image']!r}: cannot read: {error.strerror}"
                ) from error
            card = with_portrait(card, assets, portrait)
        data = write_charx(card, assets)
    write_atomically(out, data)
    return Exported(out, wanted)
