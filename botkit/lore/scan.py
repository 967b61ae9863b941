"""Which lore entries the latest messages activate: keys, secondary keys, constants, recursion.

Pure functions over immutable books; the same messages always activate the same entries.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import IntEnum

from botkit.lore.keys import key_found, key_found_in_part
from botkit.lore.model import Lorebook, LoreEntry, SelectiveLogic

__all__ = ["MAX_RECURSION", "Activation", "Trigger", "entry_matches", "scan"]

MAX_RECURSION = 5
"""How many rounds of recursive scanning follow the direct scan, at most."""


class Trigger(IntEnum):
    """Why an entry was activated; a lower value ranks higher when the budget drops some."""

    CONSTANT = 0
    KEY = 1
    RETRIEVED = 2
    RECURSIVE = 3


@dataclass(frozen=True, slots=True)
class Activation:
    """An activated entry: the entry, where it sits (book, index), why, and its final text."""

    entry: LoreEntry
    book: int
    index: int
    trigger: Trigger
    text: str


def _is_plain(entry: LoreEntry, key: str) -> bool:
    """Whether ``key`` is searched message by message (a plain key without a line break)."""
    return not entry.use_regex and "\n" not in key


class _Text:
    """A text made of parts joined by line breaks, as a scan searches it: plain keys are
    looked up in each part's answers (kept between scans), the others search the whole."""

    def __init__(self, parts: Sequence[str]) -> None:
        self._parts = parts
        self._joined: str | None = None

    def has(self, entry: LoreEntry, key: str) -> bool:
        """Whether ``key`` of ``entry`` appears in the text."""
        if _is_plain(entry, key):
            case_sensitive = entry.case_sensitive
            return any(key_found_in_part(key, part, case_sensitive) for part in self._parts)
        if self._joined is None:
            self._joined = "\n".join(self._parts)
        return key_found(
            key, self._joined, case_sensitive=entry.case_sensitive, use_regex=entry.use_regex
        )


def entry_matches(entry: LoreEntry, text: str) -> bool:
    """Whether ``text`` activates ``entry`` by its keys (constant and enabled are not checked).

    One primary key must appear; a ``selective`` entry with secondary keys also needs them
    as its ``selective_logic`` says.
    """
    return _matches(entry, _Text((text,)))


def _matches(entry: LoreEntry, text: _Text) -> bool:
    """:func:`entry_matches` on a text of parts."""
    if not any(text.has(entry, key) for key in entry.keys):
        return False
    if not entry.selective or not entry.secondary_keys:
        return True
    found = (text.has(entry, key) for key in entry.secondary_keys)
    logic = entry.selective_logic
    if logic is SelectiveLogic.AND_ANY:
        return any(found)
    if logic is SelectiveLogic.AND_ALL:
        return all(found)
    if logic is SelectiveLogic.NOT_ANY:
        return not any(found)
    return not all(found)


def scan(
    books: Sequence[Lorebook],
    messages: Sequence[str],
    *,
    scene: str = "",
    retrieved: Collection[LoreEntry] = (),
    render: Callable[[str], str] = str,
) -> list[Activation]:
    """The entries of ``books`` that ``messages`` (oldest first) activate, in insertion order.

    Each book searches its last ``scan_depth`` messages and the scene. Constant entries
    always activate, disabled ones never; entries in ``retrieved`` (found by meaning)
    activate too. Books with ``recursive_scanning`` then search the text of the entries
    activated so far (with their messages), for up to :data:`MAX_RECURSION` rounds, each
    entry at most once.
    ``render`` turns an entry's content into the text inserted (and searched).

    The result is sorted by ``insertion_order`` (lower first), then by book and position.
    """
    found: dict[tuple[int, int], Activation] = {}
    parts = [(scene, *(messages[-book.scan_depth :] if book.scan_depth else ())) for book in books]
    windows = [_Text(book_parts) for book_parts in parts]

    def activate(b: int, i: int, entry: LoreEntry, trigger: Trigger) -> None:
        found[(b, i)] = Activation(entry, b, i, trigger, render(entry.content))

    for b, book in enumerate(books):
        for i, entry in enumerate(book.entries):
            if not entry.enabled:
                continue
            if entry.constant:
                activate(b, i, entry, Trigger.CONSTANT)
            elif _matches(entry, windows[b]):
                activate(b, i, entry, Trigger.KEY)
            elif entry in retrieved:
                activate(b, i, entry, Trigger.RETRIEVED)
    for _ in range(MAX_RECURSION):
        before = len(found)
        lore = "\n".join(activation.text for activation in found.values())
        for b, book in enumerate(books):
            if not book.recursive_scanning or not lore:
                continue
            text = _Text((*parts[b], lore))
            for i, entry in enumerate(book.entries):
                if entry.enabled and (b, i) not in found and _matches(entry, text):
                    activate(b, i, entry, Trigger.RECURSIVE)
        if len(found) == before:
            break
    return sorted(found.values(), key=lambda a: (a.entry.insertion_order, a.book, a.index))
