"""Reading composed YAML nodes with line numbers, collecting every problem found."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from botkit.characters.errors import CharacterError
from botkit.characters.yaml_limits import (
    MAX_YAML_BYTES,
    BoundedLoader,
    YamlLimitError,
    YamlTooLargeError,
    read_yaml_text,
    too_large_message,
)

__all__ = ["NodeReader", "compose_file", "compose_text", "describe_node", "field_line"]

_STR = "tag:yaml.org,2002:str"
_KINDS = {
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true/false",
    "tag:yaml.org,2002:null": "nothing",
    _STR: "text",
}


def compose_file(path: Path, problems: list[CharacterError]) -> Node | None:
    """The YAML node tree of ``path``, or None (with the reason added to ``problems``)."""
    try:
        text = read_yaml_text(path)
    except (OSError, UnicodeDecodeError, YamlTooLargeError) as error:
        problems.append(CharacterError(path, 1, "", f"cannot read the file: {error}"))
        return None
    return compose_text(text, path, problems)


def compose_text(text: str, path: Path, problems: list[CharacterError]) -> Node | None:
    """The YAML node tree of ``text`` (the content of ``path``), or None (with the reason
    added to ``problems``), within the bounds of :mod:`botkit.characters.yaml_limits`."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        problems.append(CharacterError(path, 1, "", too_large_message()))
        return None
    try:
        node = yaml.compose(text, Loader=BoundedLoader)
    except YamlLimitError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else 1
        problems.append(CharacterError(path, line, "", str(error.problem)))
        return None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        message = f"invalid YAML: {error.problem}"
        if error.context and error.context_mark:
            message += f" ({error.context} on line {error.context_mark.line + 1})"
        problems.append(CharacterError(path, line, "", message))
        return None
    except yaml.YAMLError as error:
        problems.append(CharacterError(path, 1, "", f"invalid YAML: {error}"))
        return None
    if node is None:
        problems.append(CharacterError(path, 1, "", "the file is empty; expected a mapping"))
    return node


def field_line(path: Path, key: str) -> int:
    """The 1-based line where the top-level ``key:`` of a YAML file is (1 when not found)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 1
    return next((n for n, line in enumerate(lines, start=1) if line.startswith(f"{key}:")), 1)


def describe_node(node: Node) -> str:
    """What kind of YAML value ``node`` is, in words ("a mapping", "a list", "a number")."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return _KINDS.get(node.tag, "a value")


class NodeReader:
    """Typed access to a file's nodes; every failed expectation becomes a CharacterError."""

    def __init__(self, path: Path, problems: list[CharacterError]) -> None:
        self.path = path
        self.problems = problems
        self._constructor = SafeConstructor()

    def error(self, node: Node, field: str, message: str) -> None:
        """Record a problem at ``node``'s line."""
        self.problems.append(CharacterError(self.path, node.start_mark.line + 1, field, message))

    def mapping(
        self, node: Node, field: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, Node] | None:
        """The mapping's values by key, after checking for duplicate, unknown and missing keys."""
        if not isinstance(node, MappingNode):
            self.error(node, field, f"expected a mapping, found {describe_node(node)}")
            return None
        values: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(
                    key_node, field, f"expected a field name, found {describe_node(key_node)}"
                )
                continue
            key = str(key_node.value)
            path = f"{field}.{key}" if field else key
            if key in values:
                self.error(key_node, path, "duplicate key; each field may appear once")
            elif key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.error(key_node, path, f"unknown field{hint}")
            else:
                values[key] = value_node
        for key in required:
            if key not in values:
                self.error(node, f"{field}.{key}" if field else key, "required field is missing")
        return values

    def text(self, node: Node | None, field: str, *, required: bool = False) -> str | None:
        """A text value (stripped); empty text is an error when ``required``."""
        if node is None:
            return None
        if not isinstance(node, ScalarNode) or node.tag != _STR:
            self.error(node, field, f"expected text, found {describe_node(node)}")
            return None
        value = str(node.value).strip()
        if required and not value:
            self.error(node, field, "expected non-empty text")
            return None
        return value

    def number(
        self, node: Node | None, field: str, low: float, high: float, *, whole: bool = False
    ) -> float | None:
        """A number within ``low..high`` (a whole number when ``whole``)."""
        if node is None:
            return None
        kinds = ("tag:yaml.org,2002:int",) if whole else tuple(_KINDS)[:2]
        wanted = "a whole number" if whole else "a number"
        if not isinstance(node, ScalarNode) or node.tag not in kinds:
            self.error(
                node, field, f"expected {wanted} {low:g}..{high:g}, found {describe_node(node)}"
            )
            return None
        value: Any = self._constructor.construct_object(node)
        if not low <= float(value) <= high:
            self.error(node, field, f"expected {wanted} {low:g}..{high:g}, found {value}")
            return None
        return float(value)

    def items(self, node: Node | None, field: str) -> Iterator[tuple[str, Node]]:
        """The elements of a list with their field paths (nothing, plus an error, otherwise)."""
        if node is None:
            return
        if not isinstance(node, SequenceNode):
            self.error(node, field, f"expected a list, found {describe_node(node)}")
            return
        for index, item in enumerate(node.value):
            yield f"{field}[{index}]", item

    def texts(self, node: Node | None, field: str, *, non_empty: bool = False) -> tuple[str, ...]:
        """A list of non-empty texts."""
        values = [self.text(item, path, required=True) for path, item in self.items(node, field)]
        found = tuple(value for value in values if value)
        if non_empty and node is not None and isinstance(node, SequenceNode) and not node.value:
            self.error(node, field, "expected a non-empty list")
        return found
