"""Lorebooks (World Info): entries inserted into a prompt when the conversation calls for them.

The shape follows the Character Card V2/V3 ``character_book`` object, so a card's book maps
onto it field by field; ``selective_logic`` (SillyTavern's AND/NOT logic for secondary
keys) and ``retrievable`` (found by meaning as well as by key) are botkit additions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["LoreEntry", "Lorebook", "Position", "SelectiveLogic"]


class Position(StrEnum):
    """Where an entry's text goes: before or after the character definition."""

    BEFORE_CHAR = "before_char"
    AFTER_CHAR = "after_char"


class SelectiveLogic(StrEnum):
    """How a selective entry's secondary keys must appear besides one primary key."""

    AND_ANY = "and_any"
    """At least one secondary key appears."""
    AND_ALL = "and_all"
    """Every secondary key appears."""
    NOT_ANY = "not_any"
    """No secondary key appears."""
    NOT_ALL = "not_all"
    """At least one secondary key is absent."""


@dataclass(frozen=True, slots=True)
class LoreEntry:
    """One piece of lore and the rules that decide when it enters a prompt.

    ``extensions`` holds the entry's ``extensions`` mapping exactly as written (plain YAML
    data), so that exporting a card gives it back unchanged.
    """

    content: str
    keys: tuple[str, ...] = ()
    secondary_keys: tuple[str, ...] = ()
    selective: bool = False
    selective_logic: SelectiveLogic = SelectiveLogic.AND_ANY
    constant: bool = False
    case_sensitive: bool = False
    use_regex: bool = False
    insertion_order: int = 100
    priority: int = 10
    position: Position = Position.BEFORE_CHAR
    enabled: bool = True
    name: str = ""
    comment: str = ""
    id: int | str | None = None
    retrievable: bool = False
    extensions: Mapping[str, object] = field(default_factory=dict, hash=False)

    @property
    def label(self) -> str:
        """A short human name for the entry: its name, comment, first key or id."""
        found = self.name or self.comment or (self.keys[0] if self.keys else "")
        return found or (f"#{self.id}" if self.id is not None else "constant entry")


@dataclass(frozen=True, slots=True)
class Lorebook:
    """A set of lore entries with the book-wide scanning rules.

    ``scan_depth`` is how many of the latest messages are searched for keys;
    ``token_budget`` caps the book's inserted text (None: a quarter of the prompt budget);
    ``recursive_scanning`` lets inserted entries' text activate further entries.
    """

    entries: tuple[LoreEntry, ...] = ()
    name: str = ""
    description: str = ""
    scan_depth: int = 2
    token_budget: int | None = None
    recursive_scanning: bool = False
    extensions: Mapping[str, object] = field(default_factory=dict, hash=False)
