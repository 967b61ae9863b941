"""SillyTavern World Info files read as lorebooks: their fields renamed to the card's.

A World Info export keeps ``entries`` as a mapping keyed by uid and names fields its own
way (``key``, ``order``, ``disable`` …). The nodes are rearranged, not re-parsed, so a
problem is still reported at its line; fields a character book has no place for are kept
under each entry's ``extensions``, as SillyTavern does when it embeds a book in a card.
"""

from __future__ import annotations

from typing import TypeGuard

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["is_world_info", "world_info_as_book"]

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_RENAMED = {
    "key": "keys",
    "keysecondary": "secondary_keys",
    "content": "content",
    "comment": "comment",
    "constant": "constant",
    "selective": "selective",
    "order": "insertion_order",
    "uid": "id",
    "caseSensitive": "case_sensitive",
    "extensions": "extensions",
}
"""World Info entry fields that have a character-book field of the same meaning."""
_LOGIC = ("and_any", "not_all", "not_any", "and_all")
"""``selectiveLogic`` numbers, in SillyTavern's order."""
_POSITIONS = ("before_char", "after_char")
"""``position`` numbers a character book can express; the others keep their number in
``extensions.position`` and go before the character."""
_BOOK_FIELDS = ("name", "description", "scan_depth", "token_budget", "recursive_scanning")


def is_world_info(node: Node) -> TypeGuard[MappingNode]:
    """Whether ``node`` is a World Info document: ``entries`` is a mapping, not a list."""
    return isinstance(node, MappingNode) and any(
        isinstance(key, ScalarNode) and key.value == "entries" and isinstance(value, MappingNode)
        for key, value in node.value
    )


def world_info_as_book(node: MappingNode) -> MappingNode:
    """The World Info document ``node`` as a character-book mapping node."""
    pairs: list[tuple[Node, Node]] = []
    extra: list[tuple[Node, Node]] = []
    for key, value in node.value:
        name = key.value if isinstance(key, ScalarNode) else None
        if name == "entries" and isinstance(value, MappingNode):
            entries = [_entry(item) for _, item in value.value]
            pairs.append((key, SequenceNode(_SEQ, entries, value.start_mark, value.end_mark)))
        elif name in _BOOK_FIELDS:
            pairs.append((key, value))
        else:
            extra.append((key, value))
    if extra:
        pairs.append(_extensions(node, extra))
    return MappingNode(_MAP, pairs, node.start_mark, node.end_mark)


def _entry(node: Node) -> Node:
    """One World Info entry as a character-book entry (anything else is left to be refused)."""
    if not isinstance(node, MappingNode):
        return node
    pairs: list[tuple[Node, Node]] = []
    extra: list[tuple[Node, Node]] = []
    extensions: MappingNode | None = None
    for key, value in node.value:
        name = key.value if isinstance(key, ScalarNode) else None
        if name == "extensions" and isinstance(value, MappingNode):
            extensions = value
        elif name in _RENAMED:
            pairs.append((_renamed(key, _RENAMED[name]), value))
        elif name == "disable" and _is(value, _BOOL):
            enabled = "false" if value.value.lower() == "true" else "true"
            pairs.append((_renamed(key, "enabled"), _scalar(value, _BOOL, enabled)))
        elif name == "selectiveLogic" and _is(value, _INT) and value.value in "0123":
            logic = _LOGIC[int(value.value)]
            pairs.append((_renamed(key, "selective_logic"), _scalar(value, _STR, logic)))
        elif name == "position" and _is(value, _INT):
            number = int(value.value) if value.value.isdigit() else -1
            position = _POSITIONS[number] if number in (0, 1) else _POSITIONS[0]
            pairs.append((_renamed(key, "position"), _scalar(value, _STR, position)))
            if number not in (0, 1):
                extra.append((key, value))
        else:
            extra.append((key, value))
    if extra or extensions is not None:
        kept = list(extensions.value) if extensions is not None else []
        pairs.append(_extensions(node, [*kept, *extra]))
    return MappingNode(_MAP, pairs, node.start_mark, node.end_mark)


def _is(node: Node, tag: str) -> bool:
    return isinstance(node, ScalarNode) and node.tag == tag


def _scalar(at: Node, tag: str, value: str) -> ScalarNode:
    """A new scalar reported at ``at``'s line."""
    return ScalarNode(tag, value, at.start_mark, at.end_mark)


def _renamed(key: Node, name: str) -> ScalarNode:
    return _scalar(key, _STR, name)


def _extensions(at: Node, pairs: list[tuple[Node, Node]]) -> tuple[Node, Node]:
    """An ``extensions`` field holding ``pairs``."""
    key = _scalar(at, _STR, "extensions")
    return key, MappingNode(_MAP, pairs, at.start_mark, at.end_mark)
