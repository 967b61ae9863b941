"""The validated, immutable shape of a character and of a pack."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from botkit.lore.model import Lorebook

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
    """A role-play character as loaded from YAML.

    ``lorebook`` is the character's own book; ``shared_lorebooks`` are its pack's books.
    ``description``, ``personality``, ``scenario``, ``example_dialogue`` (raw, with
    ``<START>`` separators), ``system_prompt`` (``{{original}}`` stands for botkit's own
    instruction) and ``post_history_instructions`` (sent after the chat) are the Character
    Card fields of the same names; ``alternate_greetings``, ``group_greetings``,
    ``creator_notes``, ``tags``, ``creator`` and ``character_version`` are kept for authors
    and never reach a prompt.
    """

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
    lorebook: Lorebook | None = None
    shared_lorebooks: tuple[Lorebook, ...] = ()
    as_of: str | None = None
    talkativeness: float = 0.5
    nicknames: tuple[str, ...] = ()
    backend: BackendOverride = field(default_factory=BackendOverride)
    setting: str = ""
    source: Path | None = None
    description: str = ""
    personality: str = ""
    scenario: str = ""
    example_dialogue: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: tuple[str, ...] = ()
    group_greetings: tuple[str, ...] = ()
    creator_notes: str = ""
    tags: tuple[str, ...] = ()
    creator: str = ""
    character_version: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """Every name that addresses this character: id, name and nicknames."""
        return (self.name, self.id, *self.nicknames)

    @property
    def lorebooks(self) -> tuple[Lorebook, ...]:
        """The character's own lorebook (if any), then the books its pack shares."""
        own = (self.lorebook,) if self.lorebook is not None else ()
        return (*own, *self.shared_lorebooks)


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
    lorebooks: tuple[Lorebook, ...] = ()
    root: Path | None = None
