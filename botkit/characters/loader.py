"""Loading and checking characters and packs from YAML."""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from yaml.nodes import Node

from botkit.characters.errors import CharacterError, CharacterValidationError
from botkit.characters.lorebooks import load_lorebook_file, read_lorebook
from botkit.characters.model import BackendOverride, Character, Example, KnowledgeEntry, Pack
from botkit.characters.yaml_nodes import (
    NodeReader,
    compose_file,
    compose_text,
    describe_node,
    field_line,
)
from botkit.lore.model import Lorebook

__all__ = [
    "check_character_text",
    "check_paths",
    "default_pack_path",
    "load_character",
    "load_pack",
]

CARD_TEXT_FIELDS = (
    "description",
    "personality",
    "scenario",
    "example_dialogue",
    "system_prompt",
    "post_history_instructions",
    "creator_notes",
    "creator",
    "character_version",
)
"""Character Card text fields a character file may carry."""
CARD_LIST_FIELDS = ("alternate_greetings", "group_greetings", "tags")
CARD_DATA_FIELDS = {"extensions": "a mapping", "card": "a mapping", "assets": "a list"}
"""Card data kept verbatim for export, and the shape each must have."""
CHARACTER_FIELDS = (
    "id",
    "name",
    "persona",
    "summary",
    "style",
    "greeting",
    "avatar",
    "color",
    "examples",
    "knowledge",
    "lorebook",
    "as_of",
    "talkativeness",
    "nicknames",
    "backend",
    *CARD_TEXT_FIELDS,
    *CARD_LIST_FIELDS,
    *CARD_DATA_FIELDS,
)
PACK_FIELDS = (
    "name",
    "version",
    "description",
    "authors",
    "license",
    "setting",
    "lorebooks",
    "characters",
)
BACKEND_FIELDS = ("use", "model", "temperature", "top_p", "max_tokens")
COLORS = frozenset(
    f"{prefix}{base}"
    for prefix in ("", "bright_")
    for base in ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
)
CHARACTER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
"""What a character id may be (it names the character's file and its memories)."""
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def default_pack_path() -> Path:
    """The folder of the default pack shipped with botkit."""
    return Path(str(files("botkit.packs") / "default"))


def load_character(path: Path, *, setting: str = "") -> Character:
    """Load one character file.

    Raises:
        CharacterValidationError: listing every problem in the file.
    """
    problems: list[CharacterError] = []
    character = _read_character(path, setting, problems)
    if problems or character is None:
        raise CharacterValidationError(problems)
    return character


def load_pack(path: Path) -> Pack:
    """Load a pack folder (``pack.yaml`` and the characters it lists).

    Raises:
        CharacterValidationError: listing every problem in the manifest and its characters.
    """
    problems: list[CharacterError] = []
    pack = _read_pack(path, problems)
    if problems or pack is None:
        raise CharacterValidationError(problems)
    return pack


def check_paths(paths: Sequence[Path]) -> list[CharacterError]:
    """Every problem in the given character files, pack folders or folders of YAML files."""
    problems: list[CharacterError] = []
    for path in paths:
        if path.is_dir() and (path / "pack.yaml").is_file():
            _read_pack(path, problems)
        elif path.is_dir():
            found = [
                (file, _read_character(file, "", problems))
                for file in sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            ]
            _check_unique(found, problems)
        elif path.is_file():
            _read_character(path, "", problems)
        else:
            problems.append(CharacterError(path, 0, "", "no such file or folder"))
    return problems


def check_character_text(text: str, path: Path) -> list[CharacterError]:
    """Every problem ``characters check`` would find in a character file ``path`` holding
    ``text``, without the file having to exist (to check a file before writing it)."""
    problems: list[CharacterError] = []
    _read_character(path, "", problems, text=text)
    return problems


def _top_fields(
    path: Path,
    allowed: tuple[str, ...],
    required: tuple[str, ...],
    problems: list[CharacterError],
    text: str | None = None,
) -> tuple[NodeReader, dict[str, Node]] | None:
    """A reader for ``path`` (or for ``text``, its content) and its top-level fields, or
    None if the file is unusable."""
    root = compose_file(path, problems) if text is None else compose_text(text, path, problems)
    if root is None:
        return None
    reader = NodeReader(path, problems)
    fields = reader.mapping(root, "", allowed, required=required)
    return None if fields is None else (reader, fields)


def _read_character(
    path: Path,
    setting: str,
    problems: list[CharacterError],
    shared: tuple[Lorebook, ...] = (),
    *,
    text: str | None = None,
) -> Character | None:
    before = len(problems)
    top = _top_fields(path, CHARACTER_FIELDS, ("id", "name"), problems, text)
    if top is None:
        return None
    reader, fields = top
    if not any(key in fields for key in ("persona", "description", "personality")):
        problems.append(
            CharacterError(path, 1, "persona", "required field is missing (or give a description)")
        )
    for key, shape in CARD_DATA_FIELDS.items():
        node = fields.get(key)
        if node is not None and describe_node(node) != shape:
            reader.error(node, key, f"expected {shape}, found {describe_node(node)}")
    card = {key: reader.text(fields.get(key), key) or "" for key in CARD_TEXT_FIELDS}
    lists = {key: reader.texts(fields.get(key), key) for key in CARD_LIST_FIELDS}
    character_id = reader.text(fields.get("id"), "id", required=True)
    if character_id is not None and not CHARACTER_ID.match(character_id):
        reader.error(
            fields["id"],
            "id",
            f"expected a lowercase slug (letters, digits, '-' or '_', at most 40), "
            f"found {character_id!r}",
        )
    name = reader.text(fields.get("name"), "name", required=True)
    persona_node = fields.get("persona")
    persona = reader.texts(persona_node, "persona", non_empty=True) if persona_node else ()
    color = reader.text(fields.get("color"), "color")
    if color and color not in COLORS and not _HEX_COLOR.match(color):
        reader.error(
            fields["color"], "color", f"expected a colour name or #rrggbb, found {color!r}"
        )
    talkativeness = reader.number(fields.get("talkativeness"), "talkativeness", 0, 1)
    character = Character(
        id=character_id or "",
        name=name or "",
        persona=persona,
        summary=reader.text(fields.get("summary"), "summary") or "",
        style=reader.text(fields.get("style"), "style") or "",
        greeting=reader.text(fields.get("greeting"), "greeting") or "",
        avatar=reader.text(fields.get("avatar"), "avatar", required=True)
        if "avatar" in fields
        else None,
        color=color or None,
        examples=_examples(reader, fields.get("examples")),
        knowledge=_knowledge(reader, fields.get("knowledge")),
        lorebook=read_lorebook(reader, fields["lorebook"], "lorebook")
        if "lorebook" in fields
        else None,
        shared_lorebooks=shared,
        as_of=reader.text(fields.get("as_of"), "as_of", required=True)
        if "as_of" in fields
        else None,
        talkativeness=0.5 if talkativeness is None else talkativeness,
        nicknames=reader.texts(fields.get("nicknames"), "nicknames"),
        backend=_backend(reader, fields.get("backend")),
        setting=setting,
        source=path,
        description=card["description"],
        personality=card["personality"],
        scenario=card["scenario"],
        example_dialogue=card["example_dialogue"],
        system_prompt=card["system_prompt"],
        post_history_instructions=card["post_history_instructions"],
        creator_notes=card["creator_notes"],
        creator=card["creator"],
        character_version=card["character_version"],
        alternate_greetings=lists["alternate_greetings"],
        group_greetings=lists["group_greetings"],
        tags=lists["tags"],
    )
    return character if len(problems) == before else None


def _examples(reader: NodeReader, node: Node | None) -> tuple[Example, ...]:
    examples = []
    for path, item in reader.items(node, "examples"):
        fields = reader.mapping(item, path, ("user", "reply"), required=("user", "reply"))
        if fields is None:
            continue
        user = reader.text(fields.get("user"), f"{path}.user", required=True)
        reply = reader.text(fields.get("reply"), f"{path}.reply", required=True)
        if user and reply:
            examples.append(Example(user, reply))
    return tuple(examples)


def _knowledge(reader: NodeReader, node: Node | None) -> tuple[KnowledgeEntry, ...]:
    entries = []
    for path, item in reader.items(node, "knowledge"):
        fields = reader.mapping(item, path, ("text", "keys"), required=("text",))
        if fields is None:
            continue
        text = reader.text(fields.get("text"), f"{path}.text", required=True)
        keys = reader.texts(fields.get("keys"), f"{path}.keys")
        if text:
            entries.append(KnowledgeEntry(text, keys))
    return tuple(entries)


def _backend(reader: NodeReader, node: Node | None) -> BackendOverride:
    if node is None:
        return BackendOverride()
    fields = reader.mapping(node, "backend", BACKEND_FIELDS)
    if fields is None:
        return BackendOverride()
    max_tokens = reader.number(fields.get("max_tokens"), "backend.max_tokens", 1, 32768, whole=True)
    return BackendOverride(
        use=reader.text(fields.get("use"), "backend.use", required=True)
        if "use" in fields
        else None,
        model=reader.text(fields.get("model"), "backend.model", required=True)
        if "model" in fields
        else None,
        temperature=reader.number(fields.get("temperature"), "backend.temperature", 0, 2),
        top_p=reader.number(fields.get("top_p"), "backend.top_p", 0, 1),
        max_tokens=None if max_tokens is None else int(max_tokens),
    )


def _read_pack(folder: Path, problems: list[CharacterError]) -> Pack | None:
    manifest = folder / "pack.yaml"
    if not manifest.is_file():
        problems.append(CharacterError(manifest, 0, "", "pack.yaml is missing"))
        return None
    before = len(problems)
    top = _top_fields(manifest, PACK_FIELDS, ("name", "version", "characters"), problems)
    if top is None:
        return None
    reader, fields = top
    setting = reader.text(fields.get("setting"), "setting") or ""
    books = tuple(
        book
        for file in _pack_files(reader, folder, fields.get("lorebooks"), "lorebooks")
        if (book := load_lorebook_file(file, problems)) is not None
    )
    found = [
        (file, _read_character(file, setting, problems, books))
        for file in _pack_files(reader, folder, fields.get("characters"), "characters")
    ]
    _check_unique(found, problems)
    pack = Pack(
        name=reader.text(fields.get("name"), "name", required=True) or "",
        version=reader.text(fields.get("version"), "version", required=True) or "",
        description=reader.text(fields.get("description"), "description") or "",
        authors=reader.texts(fields.get("authors"), "authors"),
        license=reader.text(fields.get("license"), "license") or "",
        setting=setting,
        lorebooks=books,
        characters=tuple(character for _, character in found if character is not None),
        root=folder,
    )
    return pack if len(problems) == before else None


def _pack_files(reader: NodeReader, folder: Path, node: Node | None, field: str) -> list[Path]:
    """The files a manifest list names, each checked to exist inside the pack folder."""
    base = folder.resolve()
    files = []
    for path, item in reader.items(node, field):
        name = reader.text(item, path, required=True)
        if not name:
            continue
        file = (folder / name).resolve()
        if not file.is_relative_to(base):
            reader.error(item, path, f"{name!r} points outside the pack folder")
        elif not file.is_file():
            reader.error(item, path, f"file {name!r} does not exist in the pack")
        else:
            files.append(file)
    return files


def _check_unique(
    found: list[tuple[Path, Character | None]], problems: list[CharacterError]
) -> None:
    first: dict[str, Path] = {}
    for path, character in found:
        if character is None:
            continue
        if character.id in first:
            problems.append(
                CharacterError(
                    path,
                    field_line(path, "id"),
                    "id",
                    f"duplicate character id {character.id!r} (also in {first[character.id].name})",
                )
            )
        else:
            first[character.id] = path
