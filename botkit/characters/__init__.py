"""Characters: the YAML schema, loading with precise errors, packs and the registry."""

from botkit.characters.errors import CharacterError, CharacterValidationError
from botkit.characters.loader import check_paths, default_pack_path, load_character, load_pack
from botkit.characters.model import BackendOverride, Character, Example, KnowledgeEntry, Pack
from botkit.characters.registry import CharacterRegistry

__all__ = [
    "BackendOverride",
    "Character",
    "CharacterError",
    "CharacterRegistry",
    "CharacterValidationError",
    "Example",
    "KnowledgeEntry",
    "Pack",
    "check_paths",
    "default_pack_path",
    "load_character",
    "load_pack",
]
