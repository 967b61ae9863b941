"""The characters available to a running botkit, looked up by id, name or nickname."""

from __future__ import annotations

from botkit.characters.model import Character, Pack

__all__ = ["CharacterRegistry"]


class CharacterRegistry:
    """Characters from every loaded pack; ids are unique across packs."""

    def __init__(self) -> None:
        self._by_id: dict[str, Character] = {}
        self._sources: dict[str, str] = {}

    def add_pack(self, pack: Pack) -> None:
        """Make a pack's characters available.

        Raises:
            ValueError: a character id is already taken by another pack.
        """
        for character in pack.characters:
            if character.id in self._by_id:
                raise ValueError(
                    f"character id {character.id!r} of pack {pack.name!r} is already used "
                    f"by pack {self._sources[character.id]!r}"
                )
        for character in pack.characters:
            self._by_id[character.id] = character
            self._sources[character.id] = pack.name

    def get(self, character_id: str) -> Character | None:
        """The character with this exact id."""
        return self._by_id.get(character_id)

    def find(self, name: str) -> Character | None:
        """The character called ``name`` (id, name or nickname; any case; a leading '@')."""
        wanted = name.strip().lstrip("@").casefold()
        for character in self._by_id.values():
            if any(wanted == candidate.casefold() for candidate in character.names):
                return character
        return None

    def all(self) -> list[Character]:
        """Every character, in the order the packs list them."""
        return list(self._by_id.values())
