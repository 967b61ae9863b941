"""Choosing a prompt's lore: scan every book, hold each to its budget, split by position."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from botkit.lore.budget import fit_budget
from botkit.lore.model import Lorebook, LoreEntry, Position
from botkit.lore.scan import Activation, scan
from botkit.tokens import TokenCounter

__all__ = ["DEFAULT_BUDGET_SHARE", "LoreSelection", "select_lore"]

DEFAULT_BUDGET_SHARE = 0.25
"""A book without ``token_budget`` may use this share of the prompt budget."""


@dataclass(frozen=True, slots=True)
class LoreSelection:
    """The lore a prompt carries, in insertion order, split by where it goes."""

    before_char: tuple[Activation, ...] = ()
    after_char: tuple[Activation, ...] = ()

    @property
    def entries(self) -> tuple[LoreEntry, ...]:
        """Every selected entry, before-char ones first."""
        return tuple(a.entry for a in (*self.before_char, *self.after_char))


def select_lore(
    books: Sequence[Lorebook],
    messages: Sequence[str],
    *,
    counter: TokenCounter,
    prompt_budget: int,
    limit: int | None = None,
    scene: str = "",
    retrieved: Collection[LoreEntry] = (),
    render: Callable[[str], str] = str,
) -> LoreSelection:
    """The entries of ``books`` to insert after ``messages`` (oldest first).

    Each book's activations (see :func:`botkit.lore.scan.scan`) are held to its
    ``token_budget`` (default: :data:`DEFAULT_BUDGET_SHARE` of ``prompt_budget``), then all
    of them together to ``limit`` when given; an entry costs its text's tokens plus one
    for the line break that separates it.
    """
    found = scan(books, messages, scene=scene, retrieved=retrieved, render=render)
    activations = [a for a in found if a.text.strip()]
    order = {id(a): n for n, a in enumerate(activations)}
    costs: dict[int, int] = {}

    def cost(activation: Activation) -> int:
        key = id(activation)
        if key not in costs:
            costs[key] = counter.count(activation.text) + 1
        return costs[key]

    default = int(prompt_budget * DEFAULT_BUDGET_SHARE)
    kept: list[Activation] = []
    for b, book in enumerate(books):
        budget = default if book.token_budget is None else book.token_budget
        kept += fit_budget([a for a in activations if a.book == b], budget, cost)
    kept.sort(key=lambda a: order[id(a)])
    if limit is not None:
        kept = fit_budget(kept, limit, cost)
    return LoreSelection(
        before_char=tuple(a for a in kept if a.entry.position is Position.BEFORE_CHAR),
        after_char=tuple(a for a in kept if a.entry.position is Position.AFTER_CHAR),
    )
