"""The lore token budget: the lowest priority goes first, ties by later insertion order,
constant and direct hits outlast recursive ones; per book and in all."""

from __future__ import annotations

from botkit.lore import Lorebook, LoreEntry, Position, select_lore
from botkit.tokens import default_token_counter

COUNTER = default_token_counter()


def words(n: int) -> str:
    """A text of exactly ``n`` cl100k tokens (``n - 1`` for the separator added per entry)."""
    text = " ".join(["ship"] * n)
    assert COUNTER.count(text) == n
    return text


def entry(name: str, size: int, **fields: object) -> LoreEntry:
    return LoreEntry(content=words(size), keys=("fog",), name=name, **fields)  # type: ignore[arg-type]


def kept(book: Lorebook, *, prompt_budget: int = 1000, limit: int | None = None) -> list[str]:
    selection = select_lore(
        [book], ["fog tonight"], counter=COUNTER, prompt_budget=prompt_budget, limit=limit
    )
    return [e.name for e in selection.entries]


def test_over_budget_the_lowest_priority_is_dropped_first() -> None:
    book = Lorebook(
        token_budget=60,
        entries=(
            entry("a", 19, priority=30, insertion_order=1),
            entry("b", 19, priority=10, insertion_order=2),
            entry("c", 19, priority=20, insertion_order=3),
            entry("d", 19, priority=5, insertion_order=4),
        ),
    )
    # 4 x 20 = 80 > 60: d (priority 5) goes, then 60 fits.
    assert kept(book) == ["a", "b", "c"]
    tighter = Lorebook(token_budget=40, entries=book.entries)
    assert kept(tighter) == ["a", "c"]


def test_equal_priorities_drop_the_later_insertion_order_first() -> None:
    book = Lorebook(
        token_budget=44,
        entries=(
            entry("late", 14, insertion_order=300),
            entry("early", 14, insertion_order=10),
            entry("middle", 14, insertion_order=100),
        ),
    )
    assert kept(book) == ["early", "middle"]


def test_within_a_priority_constant_and_direct_hits_outlast_recursive_ones() -> None:
    book = Lorebook(
        token_budget=44,
        recursive_scanning=True,
        entries=(
            LoreEntry(content=words(14), constant=True, name="constant", insertion_order=200),
            LoreEntry(content="fog " + words(13), keys=("fog",), name="direct"),
            LoreEntry(
                content=words(14),
                keys=("fog",),
                name="recursive",
                insertion_order=1,
                secondary_keys=("ship",),
                selective=True,
            ),
        ),
    )
    selection = select_lore([book], ["fog tonight"], counter=COUNTER, prompt_budget=1000)
    assert [e.name for e in selection.entries] == ["direct", "constant"]


def test_a_book_without_token_budget_may_use_a_quarter_of_the_prompt_budget() -> None:
    book = Lorebook(entries=tuple(entry(str(n), 19, insertion_order=n) for n in range(6)))
    assert kept(book, prompt_budget=400) == ["0", "1", "2", "3", "4"]
    assert kept(book, prompt_budget=1000) == ["0", "1", "2", "3", "4", "5"]


def test_the_overall_limit_holds_all_books_together() -> None:
    book = Lorebook(entries=tuple(entry(str(n), 19, insertion_order=n) for n in range(4)))
    assert kept(book, limit=50) == ["0", "1"]


def test_selection_splits_by_position_and_keeps_insertion_order() -> None:
    book = Lorebook(
        entries=(
            entry("after", 3, position=Position.AFTER_CHAR, insertion_order=1),
            entry("before2", 3, insertion_order=20),
            entry("before1", 3, insertion_order=10),
        )
    )
    selection = select_lore([book], ["fog"], counter=COUNTER, prompt_budget=1000)
    assert [a.entry.name for a in selection.before_char] == ["before1", "before2"]
    assert [a.entry.name for a in selection.after_char] == ["after"]
