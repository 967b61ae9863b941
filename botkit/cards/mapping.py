"""Between Character Card fields and botkit's character YAML, losing nothing either way.

Each card field botkit uses has a YAML field of its own; ``data.extensions`` is kept
verbatim; everything else (the card's spec and version, V3 dates, sources, multilingual
notes, unknown fields, and which fields the card had, in order) is kept under ``card``.
So a card exported in the spec it was imported from equals the original field by field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["CardMappingError", "card_to_yaml", "slug", "yaml_to_card"]

_TEXTS = {
    "description": "description",
    "personality": "personality",
    "scenario": "scenario",
    "first_mes": "greeting",
    "mes_example": "example_dialogue",
    "system_prompt": "system_prompt",
    "post_history_instructions": "post_history_instructions",
    "creator_notes": "creator_notes",
    "creator": "creator",
    "character_version": "character_version",
}
"""Card text fields and the YAML field that holds each."""
_LISTS = {
    "alternate_greetings": "alternate_greetings",
    "tags": "tags",
    "group_only_greetings": "group_greetings",
}
_OTHERS = {"character_book": "lorebook", "assets": "assets", "extensions": "extensions"}
_V1 = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
_V2 = (
    *_V1,
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "alternate_greetings",
    "tags",
    "creator",
    "character_version",
    "extensions",
)
_V3 = (*_V2, "group_only_greetings")
_STANDARD = {"v1": _V1, "v2": _V2, "v3": _V3}
_SPECS = {"chara_card_v2": "v2", "chara_card_v3": "v3"}
_VERSIONS = {"v2": "2.0", "v3": "3.0"}
_SLUG = re.compile(r"[^a-z0-9]+")


class CardMappingError(ValueError):
    """A card's fields are not what the spec allows; the message names the field."""


def slug(name: str) -> str:
    """A character id made from a name ("Sir Aldric" → "sir-aldric")."""
    return (_SLUG.sub("-", name.casefold()).strip("-")[:40].rstrip("-")) or "character"


def _check(data: Mapping[str, Any]) -> None:
    for key in ("name", "nickname", *_TEXTS):
        if key in data and not isinstance(data[key], str):
            raise CardMappingError(f"data.{key}: expected text, found {type(data[key]).__name__}")
    for key in _LISTS:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CardMappingError(f"data.{key}: expected a list of texts")
    if not isinstance(data.get("extensions", {}), Mapping):
        raise CardMappingError("data.extensions: expected an object")
    if not isinstance(data.get("assets", []), list):
        raise CardMappingError("data.assets: expected a list")
    if not str(data.get("name", "")).strip():
        raise CardMappingError("data.name: a card needs a name")


def card_to_yaml(card: Mapping[str, Any], *, character_id: str | None = None) -> dict[str, Any]:
    """The botkit character (as YAML data) that ``card`` (V1, V2 or V3) describes.

    Raises:
        CardMappingError: a field has the wrong type, or the card has no name.
    """
    spec = _SPECS.get(str(card.get("spec")), "v1")
    data = card.get("data") if spec != "v1" else card
    if not isinstance(data, Mapping):
        raise CardMappingError("data: expected an object with the card's fields")
    _check(data)
    name = data["name"].strip()
    character: dict[str, Any] = {"id": character_id or slug(name), "name": name}
    if data.get("nickname"):
        character["nicknames"] = [data["nickname"]]
    for key, field in (*_TEXTS.items(), *_LISTS.items(), *_OTHERS.items()):
        if data.get(key):
            character[field] = data[key]
    talkativeness = (data.get("extensions") or {}).get("talkativeness")
    if talkativeness is not None:
        try:
            character["talkativeness"] = min(1.0, max(0.0, float(talkativeness)))
        except (TypeError, ValueError, OverflowError):
            raise CardMappingError("data.extensions.talkativeness: expected a number") from None
    envelope = {k: v for k, v in card.items() if k != "data"} if spec != "v1" else {}
    known = {"name", "nickname", *_TEXTS, *_LISTS, *_OTHERS}
    character["card"] = {
        "spec": spec,
        **({"envelope": envelope} if envelope else {}),
        "fields": list(data),
        **({"name": data["name"]} if data["name"] != name else {}),
        **(
            {"extra": extra} if (extra := {k: v for k, v in data.items() if k not in known}) else {}
        ),
    }
    return character


def _value(character: Mapping[str, Any], key: str, extra: Mapping[str, Any]) -> Any:
    """The card value of ``key`` for a character given as YAML data."""
    if key == "name":
        return (character.get("card") or {}).get("name", character["name"])
    if key == "nickname":
        nicknames = character.get("nicknames") or []
        return nicknames[0] if nicknames else ""
    if key in _TEXTS:
        return character.get(_TEXTS[key], "")
    if key in _LISTS:
        return list(character.get(_LISTS[key], []))
    if key == "extensions":
        return _extensions(character)
    if key in _OTHERS:
        return character.get(_OTHERS[key])
    return extra.get(key)


def _extensions(character: Mapping[str, Any]) -> dict[str, Any]:
    """The card's extensions, with a talkativeness edited in the YAML carried into them."""
    extensions = dict(character.get("extensions") or {})
    talkativeness = character.get("talkativeness")
    if talkativeness is None:
        return extensions
    kept = extensions.get("talkativeness")
    try:
        unchanged = kept is not None and float(kept) == float(talkativeness)
    except (TypeError, ValueError, OverflowError):
        unchanged = False
    if not unchanged:
        extensions["talkativeness"] = str(talkativeness)
    return extensions


_KEPT_SHAPES = {
    "spec": (str, "text"),
    "name": (str, "text"),
    "image": (str, "text"),
    "files": (str, "text"),
    "fields": (list, "a list"),
    "envelope": (Mapping, "a mapping"),
    "extra": (Mapping, "a mapping"),
}
"""What each field botkit keeps under a character's ``card`` must be."""


def _check_kept(kept: Mapping[str, Any]) -> None:
    """Refuse ``card`` data an edit has damaged, naming the field."""
    for key, (kind, words) in _KEPT_SHAPES.items():
        if key in kept and not isinstance(kept[key], kind):
            raise CardMappingError(f"card.{key}: expected {words}")
    if not all(isinstance(key, str) for key in kept.get("fields", [])):
        raise CardMappingError("card.fields: expected a list of field names")


def yaml_to_card(character: Mapping[str, Any], *, spec: str | None = None) -> dict[str, Any]:
    """The card for a botkit character given as YAML data.

    ``spec`` is ``"v1"``, ``"v2"`` or ``"v3"``; by default the one it was imported from,
    with the same fields in the same order (V3 for a character written for botkit). The V1
    fields some V2/V3 cards repeat outside ``data`` carry the YAML's current text.

    Raises:
        CardMappingError: ``spec`` is not one of those.
    """
    kept = character.get("card") or {}
    _check_kept(kept)
    origin = kept.get("spec", "v3")
    wanted = spec or origin
    if wanted not in _STANDARD:
        raise CardMappingError(f"spec: expected v1, v2 or v3, got {wanted!r}")
    extra = kept.get("extra") or {}
    if wanted == origin and "fields" in kept:
        keys = list(kept["fields"])
    else:
        keys = list(_STANDARD[wanted])
        optional = ("nickname", "character_book", "assets") if wanted == "v3" else ()
        keys += [
            k
            for k in (*optional, "character_book")
            if k not in keys and _value(character, k, extra)
        ]
    data = {key: _value(character, key, extra) for key in keys}
    if wanted == "v1":
        return data
    envelope = kept.get("envelope") if wanted == origin else None
    card: dict[str, Any] = dict(envelope or {})
    for key in _V1:
        if key in card:
            card[key] = _value(character, key, extra)
    card.setdefault("spec", f"chara_card_{wanted}")
    card.setdefault("spec_version", _VERSIONS[wanted])
    card["data"] = data
    return card
