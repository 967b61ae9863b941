"""Listing an imported character in its folder's ``pack.yaml``, so the folder is a pack.

A missing manifest is created; an existing one gets the file added to its ``characters``
list by inserting text, so the author's comments and layout stay as they were.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from botkit.atomic_files import write_atomically
from botkit.cards.mapping import slug

__all__ = ["MANIFEST", "ManifestError", "list_in_pack"]

MANIFEST = "pack.yaml"


class ManifestError(ValueError):
    """The folder's ``pack.yaml`` cannot take the character; the message says why."""


def list_in_pack(folder: Path, filename: str) -> Path | None:
    """Make ``folder/pack.yaml`` list ``filename``; the manifest's path when it changed.

    Raises:
        ManifestError: the manifest exists but has no ``characters`` list to add to.
    """
    path = folder / MANIFEST
    if not path.exists():
        name = slug(folder.resolve().name) or "imported"
        text = f"name: {name}\nversion: 0.1.0\ncharacters:\n  - {filename}\n"
        write_atomically(path, text.encode("utf-8"))
        return path
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as error:
        raise ManifestError(f"{path}: cannot read it to list {filename} ({error})") from error
    listing = _characters(root)
    if listing is None:
        raise ManifestError(f"{path}: no characters list to add {filename} to")
    if any(isinstance(item, ScalarNode) and item.value == filename for item in listing.value):
        return None
    write_atomically(path, _inserted(text, listing, filename).encode("utf-8"))
    return path


def _characters(root: object) -> SequenceNode | None:
    """The ``characters`` list node of a manifest, if it has one."""
    if not isinstance(root, MappingNode):
        return None
    for key, value in root.value:
        if isinstance(key, ScalarNode) and key.value == "characters":
            return value if isinstance(value, SequenceNode) else None
    return None


def _inserted(text: str, listing: SequenceNode, filename: str) -> str:
    """``text`` with ``filename`` added at the end of the list ``listing``, in its style."""
    if listing.flow_style:
        end = listing.end_mark.index - 1
        separator = ", " if listing.value else ""
        return f"{text[:end].rstrip()}{separator}{filename}{text[end:]}"
    last = listing.value[-1]
    indent = " " * max(listing.value[0].start_mark.column - 2, 0)
    line_end = text.find("\n", last.end_mark.index)
    if line_end == -1:
        return f"{text}\n{indent}- {filename}\n"
    return f"{text[:line_end]}\n{indent}- {filename}{text[line_end:]}"
