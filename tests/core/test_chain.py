"""The stored progress of a chain of replies reads back as it was written."""

from __future__ import annotations

import pytest

from botkit.chain import ChainProgress


def test_progress_reads_back_as_written_through_a_follow_up_round() -> None:
    start = ChainProgress("delivery-1", ("mira", "bram"), reply_to="msg-1", owed=("mira",))
    after_mira = start.after_turn(said=True, cue="bram")
    assert after_mira.next_speaker == "bram"
    follow_up = after_mira.after_turn(said=False, cue=None).next_round(
        ("wren",), reply_to="reply-1"
    )
    assert (follow_up.done, follow_up.turns, follow_up.follow_ups) == (0, 2, 1)
    assert follow_up.spoke and follow_up.next_speaker == "wren"
    for progress in (start, after_mira, follow_up):
        assert ChainProgress.decode("delivery-1", progress.encode()) == progress


@pytest.mark.parametrize("text", ["", "{", "[]", '{"speakers": ["mira"]}', '{"done": "x"}'])
def test_unreadable_progress_is_none(text: str, caplog: pytest.LogCaptureFixture) -> None:
    assert ChainProgress.decode("delivery-1", text) is None
    assert "progress of event delivery-1 unreadable" in caplog.text
