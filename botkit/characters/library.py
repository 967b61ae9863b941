"""The characters a bot serves: its configured packs, then the packs installed from chat,
then the cards imported in the web playground."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path

from botkit.atomic_files import write_atomically
from botkit.cards.manifest import ManifestError, list_in_pack
from botkit.characters.errors import CharacterValidationError
from botkit.characters.loader import (
    CHARACTER_ID,
    check_character_text,
    default_pack_path,
    load_pack,
)
from botkit.characters.registry import CharacterRegistry
from botkit.one_line import one_line
from botkit.pack_install import PackError, installed_pack_folders

__all__ = ["IMPORTED", "CharacterLibrary", "save_character_text"]

ID_LINE = re.compile(r"^id:\s*['\"]?([^'\"\s#]+)", re.MULTILINE)
"""The ``id:`` line of a character's YAML (the file is named after it)."""
IMPORTED = "imported"
"""The pack folder, in the data folder, that cards imported in the web playground go to."""


def save_character_text(text: str, folder: Path, taken: Collection[str] = ()) -> str:
    """Check a character's YAML ``text`` and write it to ``folder/<id>.yaml``, listed in the
    folder's pack (made when missing); the character's id. ``taken`` are ids of other
    packs' characters, which a saved copy may not reuse (the packs would clash).

    Raises:
        ValueError: the text is no valid character, one ``file:line: field: problem`` line
            each (or the pack manifest cannot list it).
    """
    found = ID_LINE.search(text)
    character_id = found.group(1) if found else ""
    if not CHARACTER_ID.match(character_id):
        raise ValueError("id: a character needs an id of lower-case letters, digits, - and _")
    if character_id in taken:
        raise ValueError(
            f"id: {character_id} belongs to a character of another pack;"
            " give the copy an id of its own"
        )
    target = folder / f"{character_id}.yaml"
    problems = check_character_text(text, target)
    if problems:
        raise ValueError("\n".join(str(problem) for problem in problems))
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(target, text.encode("utf-8"))
    try:
        list_in_pack(folder, target.name)
    except ManifestError as error:
        raise ValueError(str(error)) from error
    return character_id


class CharacterLibrary:
    """Loads the configured packs (or the default one) and those installed in ``data_dir``."""

    def __init__(self, packs: Sequence[Path], data_dir: Path) -> None:
        self._packs = tuple(packs) or (default_pack_path(),)
        self._data_dir = data_dir

    def load(self) -> tuple[CharacterRegistry, list[str]]:
        """Every character, and the problems met, one line each.

        A configured pack that does not load stops the load (its error is raised); an
        installed one is skipped, with a line saying why.
        """
        registry = CharacterRegistry()
        for path in self._packs:
            registry.add_pack(load_pack(path))
        skipped: list[str] = []
        try:
            installed = installed_pack_folders(self._data_dir)
        except PackError as error:
            return registry, [f"installed packs not loaded: {error}"]
        for entry, folder in installed:
            try:
                registry.add_pack(load_pack(folder))
            except (CharacterValidationError, ValueError, OSError) as error:
                skipped.append(f"installed pack {entry.name} skipped: {one_line(error)}")
        imported = self._data_dir / IMPORTED
        if (imported / "pack.yaml").is_file():
            try:
                registry.add_pack(load_pack(imported))
            except (CharacterValidationError, ValueError, OSError) as error:
                skipped.append(f"imported cards skipped: {one_line(error)}")
        return registry, skipped
