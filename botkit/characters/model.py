"""The validated, immutable shape of a character and of a pack."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BackendOverride",
    "Character",
    "Example",
    "KnowledgeEntry",
    "Pack",
]


@dataclass(frozen=True, slots=True)
class Example:
    """One sample exchange showing how the character answers."""

    user: str
    reply: str


@dataclass(frozen=True, slots=True)
class KnowledgeEntry:
    """Something the character knows; with ``keys`` it is added only when a key is mentioned."""

    text: str
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BackendOverride:
    """Per-character choice of backend, model and sampling; ``None`` keeps the default."""

    use: str | None = None
    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Character:
    """A role-play character as loaded from YAML."""

    id: str
    name: str
    persona: tuple[str, ...]
    summary: str = ""
    style: str = ""
    greeting: str = ""
    avatar: str | None = None
    color: str | None = None
    examples: tuple[Example, ...] = ()
    knowledge: tuple[KnowledgeEntry, ...] = ()
    as_of: str | None = None
    talkativeness: float = 0.5
    nicknames: tuple[str, ...] = ()
    backend: BackendOverride = field(default_factory=BackendOverride)
    setting: str = ""
    source: Path | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every name that addresses this character: id, name and nicknames."""
        return (self.name, self.id, *self.nicknames)


@dataclass(frozen=True, slots=True)
class Pack:
    """A folder of characters with its ``pack.yaml`` manifest."""

    name: str
    version: str
    characters: tuple[Character, ...]
    description: str = ""
    authors: tuple[str, ...] = ()
    license: str = ""
    setting: str = ""
    root: Path | None = None
