"""Keeping activated lore within a token budget: the least important entries go first."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from botkit.lore.scan import Activation

__all__ = ["fit_budget", "keep_rank"]


def keep_rank(activation: Activation) -> tuple[int, int, int, int, int]:
    """Sort key of how strongly an entry deserves its place (smaller: kept longer).

    Higher ``priority`` first; then constant entries, then direct key hits, then entries
    found by meaning, then recursive hits; then lower ``insertion_order``; then book order.
    """
    entry = activation.entry
    return (
        -entry.priority,
        int(activation.trigger),
        entry.insertion_order,
        activation.book,
        activation.index,
    )


def fit_budget(
    activations: Sequence[Activation], budget: int, cost: Callable[[Activation], int]
) -> list[Activation]:
    """The activations that remain once the weakest are dropped until the rest fit ``budget``.

    Entries are dropped one at a time, the lowest :func:`keep_rank` first, until the total
    ``cost`` is at most ``budget``; the survivors keep their order in ``activations``.
    """
    costs = {id(a): cost(a) for a in activations}
    total = sum(costs.values())
    ranked = sorted(activations, key=keep_rank)
    while ranked and total > budget:
        total -= costs[id(ranked.pop())]
    kept = {id(a) for a in ranked}
    return [a for a in activations if id(a) in kept]
