"""Which lore entries the latest messages activate: keys, secondary keys, constants, recursion.

Pure functions over immutable books; the same messages always activate the same entries.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum

from botkit.lore.keys import key_found
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


def _found(entry: LoreEntry, keys: Sequence[str], text: str) -> Iterator[bool]:
    """Whether each key appears in ``text``, searched lazily so any/all can stop early."""
    for key in keys:
        yield key_found(key, text, case_sensitive=entry.case_sensitive, use_regex=entry.use_regex)


def entry_matches(entry: LoreEntry, text: str) -> bool:
    """Whether ``text`` activates ``entry`` by its keys (constant and enabled are not checked).

    One primary key must appear; a ``selective`` entry with secondary keys also needs them
    as its ``selective_logic`` says.
    """
    if not entry.keys or not any(_found(entry, entry.keys, text)):
        return False
    if not entry.selective or not entry.secondary_keys:
        return True
    found = _found(entry, entry.secondary_keys, text)
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
    windows = [
        "\n".join([scene, *(messages[-book.scan_depth :] if book.scan_depth else ())])
        for book in books
    ]

    def activate(b: int, i: int, entry: LoreEntry, trigger: Trigger) -> None:
        found[(b, i)] = Activation(entry, b, i, trigger, render(entry.content))

    for b, book in enumerate(books):
        for i, entry in enumerate(book.entries):
            if not entry.enabled:
                continue
            if entry.constant:
                activate(b, i, entry, Trigger.CONSTANT)
            elif entry_matches(entry, windows[b]):
                activate(b, i, entry, Trigger.KEY)
            elif entry in retrieved:
                activate(b, i, entry, Trigger.RETRIEVED)
    for _ in range(MAX_RECURSION):
        before = len(found)
        lore = "\n".join(activation.text for activation in found.values())
        for b, book in enumerate(books):
            if not book.recursive_scanning or not lore:
                continue
            text = f"{windows[b]}\n{lore}"
            for i, entry in enumerate(book.entries):
                if entry.enabled and (b, i) not in found and entry_matches(entry, text):
                    activate(b, i, entry, Trigger.RECURSIVE)
        if len(found) == before:
            break
    return sorted(found.values(), key=lambda a: (a.entry.insertion_order, a.book, a.index))
