"""Reading lorebooks from YAML (a character's ``lorebook``, or a pack's shared book files).

The fields are those of the Character Card V2/V3 ``character_book``, so a card's book
pasted as YAML loads as it is; a field set to nothing (``null``) takes its default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode

from botkit.characters.errors import CharacterError
from botkit.characters.world_info import is_world_info, world_info_as_book
from botkit.characters.yaml_nodes import NodeReader, compose_file
from botkit.lore.keys import InvalidKey, key_pattern
from botkit.lore.model import Lorebook, LoreEntry, Position, SelectiveLogic

__all__ = ["BOOK_FIELDS", "ENTRY_FIELDS", "load_lorebook_file", "read_lorebook"]

BOOK_FIELDS = (
    "name",
    "description",
    "scan_depth",
    "token_budget",
    "recursive_scanning",
    "extensions",
    "entries",
)
ENTRY_FIELDS = (
    "keys",
    "content",
    "secondary_keys",
    "selective",
    "selective_logic",
    "constant",
    "case_sensitive",
    "use_regex",
    "insertion_order",
    "priority",
    "position",
    "enabled",
    "name",
    "comment",
    "id",
    "retrievable",
    "extensions",
)
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_INT = "tag:yaml.org,2002:int"
_STR = "tag:yaml.org,2002:str"
_ORDER = 1_000_000
_Choice = TypeVar("_Choice", Position, SelectiveLogic)


def load_lorebook_file(path: Path, problems: list[CharacterError]) -> Lorebook | None:
    """The lorebook in the YAML file ``path``; None (with ``problems`` added) when invalid."""
    root = compose_file(path, problems)
    if root is None:
        return None
    return read_lorebook(NodeReader(path, problems), root, "")


def read_lorebook(reader: NodeReader, node: Node, field: str) -> Lorebook | None:
    """The lorebook at ``node`` (field path ``field``); every problem goes to ``reader``.

    A SillyTavern World Info export (``entries`` keyed by uid) is read as the book it is."""
    before = len(reader.problems)
    if is_world_info(node):
        node = world_info_as_book(node)
    fields = _given(reader.mapping(node, field, BOOK_FIELDS))
    if fields is None:
        return None
    path = (field + ".") if field else ""
    entries = []
    for entry_path, item in reader.items(fields.get("entries"), f"{path}entries"):
        entry = _entry(reader, item, entry_path)
        if entry is not None:
            entries.append(entry)
    depth = reader.number(fields.get("scan_depth"), f"{path}scan_depth", 0, 1000, whole=True)
    budget = reader.number(
        fields.get("token_budget"), f"{path}token_budget", 1, 1_000_000, whole=True
    )
    book = Lorebook(
        entries=tuple(entries),
        name=reader.text(fields.get("name"), f"{path}name") or "",
        description=reader.text(fields.get("description"), f"{path}description") or "",
        scan_depth=2 if depth is None else int(depth),
        token_budget=None if budget is None else int(budget),
        recursive_scanning=_flag(
            reader, fields.get("recursive_scanning"), f"{path}recursive_scanning", False
        ),
        extensions=_extensions(reader, fields.get("extensions"), f"{path}extensions"),
    )
    return book if len(reader.problems) == before else None


def _entry(reader: NodeReader, node: Node, path: str) -> LoreEntry | None:
    fields = _given(reader.mapping(node, path, ENTRY_FIELDS, required=("content",)))
    if fields is None:
        return None
    use_regex = _flag(reader, fields.get("use_regex"), f"{path}.use_regex", False)
    case_sensitive = _flag(reader, fields.get("case_sensitive"), f"{path}.case_sensitive", False)
    keys = _keys(reader, fields.get("keys"), f"{path}.keys", use_regex, case_sensitive)
    secondary = _keys(
        reader, fields.get("secondary_keys"), f"{path}.secondary_keys", use_regex, case_sensitive
    )
    content = fields.get("content")
    return LoreEntry(
        content=(reader.text(content, f"{path}.content") or "") if content is not None else "",
        keys=keys,
        secondary_keys=secondary,
        selective=_flag(reader, fields.get("selective"), f"{path}.selective", False),
        selective_logic=_choice(
            reader,
            fields.get("selective_logic"),
            f"{path}.selective_logic",
            SelectiveLogic,
            SelectiveLogic.AND_ANY,
        ),
        constant=_flag(reader, fields.get("constant"), f"{path}.constant", False),
        case_sensitive=case_sensitive,
        use_regex=use_regex,
        insertion_order=_whole(
            reader, fields.get("insertion_order"), f"{path}.insertion_order", 100
        ),
        priority=_whole(reader, fields.get("priority"), f"{path}.priority", 10),
        position=_choice(
            reader, fields.get("position"), f"{path}.position", Position, Position.BEFORE_CHAR
        ),
        enabled=_flag(reader, fields.get("enabled"), f"{path}.enabled", True),
        name=reader.text(fields.get("name"), f"{path}.name") or "",
        comment=reader.text(fields.get("comment"), f"{path}.comment") or "",
        id=_identifier(reader, fields.get("id"), f"{path}.id"),
        retrievable=_flag(reader, fields.get("retrievable"), f"{path}.retrievable", False),
        extensions=_extensions(reader, fields.get("extensions"), f"{path}.extensions"),
    )


def _given(fields: dict[str, Node] | None) -> dict[str, Node] | None:
    """``fields`` without those set to nothing, which therefore take their defaults."""
    if fields is None:
        return None
    return {k: v for k, v in fields.items() if not (isinstance(v, ScalarNode) and v.tag == _NULL)}


def _flag(reader: NodeReader, node: Node | None, field: str, default: bool) -> bool:
    if node is None:
        return default
    if not isinstance(node, ScalarNode) or node.tag != _BOOL:
        reader.error(node, field, "expected true or false")
        return default
    return bool(SafeConstructor().construct_object(node))


def _whole(reader: NodeReader, node: Node | None, field: str, default: int) -> int:
    value = reader.number(node, field, -_ORDER, _ORDER, whole=True)
    return default if value is None else int(value)


def _choice(
    reader: NodeReader, node: Node | None, field: str, kind: type[_Choice], default: _Choice
) -> _Choice:
    if node is None:
        return default
    value = reader.text(node, field)
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        expected = ", ".join(member.value for member in kind)
        reader.error(node, field, f"expected one of {expected}, found {value!r}")
        return default


def _identifier(reader: NodeReader, node: Node | None, field: str) -> int | str | None:
    if node is None:
        return None
    if isinstance(node, ScalarNode) and node.tag == _INT:
        return int(SafeConstructor().construct_object(node))
    if isinstance(node, ScalarNode) and node.tag == _STR:
        return str(node.value)
    reader.error(node, field, "expected a number or text")
    return None


def _keys(
    reader: NodeReader, node: Node | None, field: str, use_regex: bool, case_sensitive: bool
) -> tuple[str, ...]:
    keys = []
    for path, item in reader.items(node, field):
        key = reader.text(item, path, required=True)
        if not key:
            continue
        if use_regex:
            try:
                key_pattern(key, case_sensitive=case_sensitive, use_regex=True)
            except InvalidKey as error:
                reader.error(item, path, f"invalid regular expression {key!r}: {error}")
                continue
        keys.append(key)
    return tuple(keys)


def _extensions(reader: NodeReader, node: Node | None, field: str) -> dict[str, Any]:
    """The ``extensions`` mapping as plain data, exactly as written."""
    if node is None:
        return {}
    if not isinstance(node, MappingNode):
        reader.error(node, field, "expected a mapping")
        return {}
    constructor = SafeConstructor()
    data = constructor.construct_document(node)
    if not all(isinstance(key, str) for key in data):
        reader.error(node, field, "expected text keys")
        return {}
    return dict(data)
