"""The characters a bot serves: its configured packs, then the packs installed from chat,
then the cards imported in the web playground."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from botkit.characters.errors import CharacterValidationError
from botkit.characters.loader import default_pack_path, load_pack
from botkit.characters.registry import CharacterRegistry
from botkit.one_line import one_line
from botkit.pack_install import PackError, installed_pack_folders

__all__ = ["IMPORTED", "CharacterLibrary"]

IMPORTED = "imported"
"""The pack folder, in the data folder, that cards imported in the web playground go to."""


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
