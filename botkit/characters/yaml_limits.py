"""Bounds on the YAML botkit reads, so a hostile file ends in an error, not a runaway.

A file may hold at most ``MAX_YAML_BYTES``; its values may nest at most ``MAX_DEPTH``
deep and number at most ``MAX_NODES``. Aliases (``*name``) are counted as the copies they
stand for, so a few hundred bytes of nested aliases ("billion laughs") cannot expand into
gigabytes when the data is later used; an alias inside the node it names is refused. Text
must be valid Unicode: a lone surrogate (``"\\ud800"``) cannot be stored or sent anywhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, ScalarEvent
from yaml.nodes import Node

from botkit.bounded_read import read_at_most

__all__ = [
    "MAX_ALIAS_COPIES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_NUMBER_DIGITS",
    "MAX_YAML_BYTES",
    "BoundedLoader",
    "YamlLimitError",
    "YamlTooLargeError",
    "load_yaml",
    "read_yaml_text",
    "too_large_message",
]

MAX_YAML_BYTES = 1 << 20
"""The largest YAML file botkit reads (1 MiB); a pack can split lore over several files."""
MAX_DEPTH = 64
"""How deep values may nest."""
MAX_NODES = 50_000
"""How many values (texts, numbers, lists, mappings) one file may hold."""
MAX_ALIAS_COPIES = MAX_YAML_BYTES
"""How much data aliases may copy, all together (values plus characters of text)."""
MAX_NUMBER_DIGITS = 100
"""How long a whole number may be written."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT = "tag:yaml.org,2002:int"


class YamlLimitError(yaml.MarkedYAMLError):
    """A YAML document goes past one of botkit's bounds, or holds text that is not Unicode."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class YamlTooLargeError(ValueError):
    """A YAML file is larger than ``MAX_YAML_BYTES``."""


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with botkit's bounds checked while the document is composed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._expanded = 0
        """Values plus characters of text so far, each alias counted as what it names."""
        self._copied = 0
        """The part of that added by aliases."""
        self._named: dict[str, tuple[int, int]] = {}
        """Expanded size and height of each finished anchored node."""
        self._open: set[str] = set()
        self._heights = [0]

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """Compose the next node, refusing it when it would go past a bound."""
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            return self._alias(event, parent, index)
        if self._depth >= MAX_DEPTH:
            raise YamlLimitError(f"values nest more than {MAX_DEPTH} levels deep", event.start_mark)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise YamlLimitError(f"more than {MAX_NODES:,} values in one file", event.start_mark)
        size = 1
        if isinstance(event, ScalarEvent):
            found = _SURROGATE.search(event.value)
            if found:
                raise YamlLimitError(
                    f"text holds a lone surrogate ({found.group()!a}), which is not valid "
                    "Unicode text",
                    event.start_mark,
                )
            size += len(event.value)
        start = self._expanded
        self._expanded += size
        anchor = event.anchor
        if anchor is not None:
            self._open.add(anchor)
        self._depth += 1
        self._heights.append(0)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            height = self._heights.pop() + 1
        if node is not None and node.tag == _INT and len(node.value) > MAX_NUMBER_DIGITS:
            raise YamlLimitError(
                f"a number longer than {MAX_NUMBER_DIGITS} digits", event.start_mark
            )
        self._heights[-1] = max(self._heights[-1], height)
        if anchor is not None:
            self._open.discard(anchor)
            self._named[anchor] = (self._expanded - start, height)
        return node

    def _alias(self, event: AliasEvent, parent: Node | None, index: Any) -> Node | None:
        anchor = str(event.anchor)
        if anchor in self._open:
            raise YamlLimitError(
                f"alias *{anchor} is used inside the value it names", event.start_mark
            )
        node = super().compose_node(parent, index)
        size, height = self._named.get(anchor, (1, 1))
        if self._depth + height > MAX_DEPTH:
            raise YamlLimitError(
                f"alias *{anchor} makes values nest more than {MAX_DEPTH} levels deep",
                event.start_mark,
            )
        self._expanded += size
        self._copied += size
        if self._copied > MAX_ALIAS_COPIES:
            raise YamlLimitError(
                f"aliases copy more than {MAX_ALIAS_COPIES:,} characters of data",
                event.start_mark,
            )
        self._heights[-1] = max(self._heights[-1], height)
        return node


def read_yaml_text(path: Path) -> str:
    """The text of the YAML file ``path``, read no further than the size bound allows.

    Raises:
        OSError: the file cannot be read.
        UnicodeDecodeError: it is not UTF-8.
        YamlTooLargeError: it is larger than ``MAX_YAML_BYTES``.
    """
    data = read_at_most(path, MAX_YAML_BYTES)
    if data is None:
        raise YamlTooLargeError(too_large_message())
    return data.decode("utf-8")


def too_large_message() -> str:
    """What is wrong with a YAML file or text over the size bound, in words."""
    return f"larger than {MAX_YAML_BYTES:,} bytes, the most botkit reads from one YAML file"


def load_yaml(text: str) -> Any:
    """The data of the YAML document ``text``, within botkit's bounds.

    Raises:
        yaml.YAMLError: it is not valid YAML, or it goes past a bound (YamlLimitError).
        YamlTooLargeError: it is larger than ``MAX_YAML_BYTES``.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise YamlTooLargeError(too_large_message())
    return yaml.load(text, Loader=BoundedLoader)
