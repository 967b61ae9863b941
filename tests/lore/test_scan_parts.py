"""A scan searches each message on its own and keeps the answers: it must activate exactly
what searching the messages joined into one text activates."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from botkit.lore import Lorebook, LoreEntry, SelectiveLogic, entry_matches, scan

WORDS = ("sea", "Sea", "season", "bell", "old bell", "tide", "moon", "tide moon", "Bram")
TEXT_WORDS = (*WORDS, "the", "a", "!", "-", "seas", "belltower", "\n")

texts = st.lists(st.sampled_from(TEXT_WORDS), max_size=8).map(" ".join)
keys = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(tuple)
entries = st.builds(
    LoreEntry,
    content=st.just("lore text"),
    keys=keys,
    secondary_keys=st.lists(st.sampled_from(WORDS), max_size=2).map(tuple),
    selective=st.booleans(),
    selective_logic=st.sampled_from(list(SelectiveLogic)),
    case_sensitive=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(entries, min_size=1, max_size=5),
    messages=st.lists(texts, max_size=4),
    scene=texts,
    depth=st.integers(min_value=0, max_value=4),
)
def test_searching_message_by_message_activates_what_the_joined_text_does(
    entries: list[LoreEntry], messages: list[str], scene: str, depth: int
) -> None:
    book = Lorebook(entries=tuple(entries), scan_depth=depth)
    joined = "\n".join([scene, *(messages[-depth:] if depth else ())])
    expected = [i for i, entry in enumerate(entries) if entry_matches(entry, joined)]
    found = [a.index for a in scan([book], messages, scene=scene)]
    assert sorted(found) == expected


def test_a_regular_expression_key_still_spans_two_messages() -> None:
    spanning = LoreEntry(content="x", keys=(r"harbour\s+light",), use_regex=True, name="span")
    plain = LoreEntry(content="y", keys=("harbour light",), name="plain")
    book = Lorebook(entries=(spanning, plain), scan_depth=2)
    found = [a.entry.name for a in scan([book], ["the old harbour", "light at dusk"])]
    assert found == ["span"]
