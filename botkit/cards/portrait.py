"""A character's portrait inside a CHARX archive: the card's main icon asset."""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = ["PORTRAIT_PATH", "main_icon_path", "with_portrait"]

PORTRAIT_PATH = "assets/icon/images/main.png"
"""Where an exported archive keeps the portrait when the card names no file for it."""
_EMBEDDED = "embeded://"
"""The V3 spec's own spelling of the URI scheme for files inside the archive."""


def with_portrait(
    card: Mapping[str, Any], assets: MutableMapping[str, bytes], portrait: bytes
) -> dict[str, Any]:
    """The V3 ``card`` with ``portrait`` as its main icon, added to ``assets`` unless the
    card's main icon is a file the archive holds already."""
    result: dict[str, Any] = copy.deepcopy(dict(card))
    data = result.setdefault("data", {})
    entries = data.get("assets")
    if not isinstance(entries, list):
        entries = data["assets"] = []
    main = next((entry for entry in entries if _is_main_icon(entry)), None)
    uri = str(main.get("uri", "")) if main is not None else ""
    if uri.startswith(_EMBEDDED) and uri.removeprefix(_EMBEDDED) in assets:
        return result
    assets[PORTRAIT_PATH] = portrait
    icon = {"type": "icon", "uri": _EMBEDDED + PORTRAIT_PATH, "name": "main", "ext": "png"}
    if main is None:
        entries.insert(0, icon)
    else:
        main.update(icon)
    return result


def main_icon_path(card: Mapping[str, Any], assets: Mapping[str, bytes]) -> str | None:
    """The path, inside a CHARX archive, of the card's main icon (its portrait), if any."""
    data = card.get("data")
    entries = data.get("assets") if isinstance(data, Mapping) else None
    for entry in entries if isinstance(entries, list) else ():
        uri = str(entry.get("uri", "")) if _is_main_icon(entry) else ""
        if uri.startswith(_EMBEDDED) and uri.removeprefix(_EMBEDDED) in assets:
            return uri.removeprefix(_EMBEDDED)
    return None


def _is_main_icon(entry: object) -> bool:
    """Whether an ``assets`` entry is the card's main icon (its portrait)."""
    return isinstance(entry, dict) and entry.get("type") == "icon" and entry.get("name") == "main"
