"""``/roll``: dice notation, its bounds, and the roll in the cast's next prompt."""

from __future__ import annotations

import random
from typing import Any

import pytest
from botkit.plugins.dice import MAX_DICE, roll

from botkit.plugin import CommandError
from botkit.testing import InstantBackend
from tests.core.test_conversation import ROOM, push, said
from tests.plugins.helpers import answer

AppFactory = Any


class Loaded(random.Random):
    """Dice that show the faces given, in order."""

    def __init__(self, *faces: int) -> None:
        super().__init__()
        self._faces = list(faces)

    def randint(self, a: int, b: int) -> int:
        face = self._faces.pop(0)
        assert a <= face <= b
        return face


@pytest.mark.parametrize(
    ("notation", "faces", "described", "total"),
    [
        ("2d6+3", (4, 2), "2d6+3: [4, 2] + 3 = 9", 9),
        ("d20", (17,), "d20: [17] = 17", 17),
        ("4d6kh3", (1, 5, 3, 6), "4d6kh3: [6, 5, 3] (dropped [1]) = 14", 14),
        ("2d20kl1", (12, 7), "2d20kl1: [7] (dropped [12]) = 7", 7),
        ("1d8 - 1d4 - 2", (5, 3), "1d8 - 1d4 - 2: [5] - [3] - 2 = 0", 0),
        ("-2+1d6", (6,), "-2+1d6: -2 + [6] = 4", 4),
        ("7", (), "7: 7 = 7", 7),
    ],
)
def test_notation_is_read_and_summed(
    notation: str, faces: tuple[int, ...], described: str, total: int
) -> None:
    result = roll(notation, Loaded(*faces))
    assert (result.describe(), result.total) == (described, total)


@pytest.mark.parametrize(
    ("notation", "problem"),
    [
        ("", "cannot read the dice ''"),
        ("two dice", "cannot read the dice 'two dice'"),
        ("2d6+", "cannot read the dice"),
        ("+2d6", "cannot read the dice"),
        ("2d6x", "cannot read the dice"),
        (f"{MAX_DICE + 1}d6", f"at most {MAX_DICE} dice; '{MAX_DICE + 1}d6' asks {MAX_DICE + 1}"),
        ("60d6+60d6", f"at most {MAX_DICE} dice"),
        ("999999999999d6", f"at most {MAX_DICE} dice"),
        ("2d1", "dice have 2 to 1000 sides"),
        ("1d1001", "dice have 2 to 1000 sides"),
        ("0d6", "a term throws at least one"),
        ("4d6kh5", "keep between 1 and 4 dice, not 5"),
        ("4d6kl0", "keep between 1 and 4 dice, not 0"),
        ("1+" * 10 + "1", "at most 10 terms"),
        ("1d6+99999", "numbers in a roll go up to 10000"),
    ],
)
def test_bad_or_huge_rolls_are_refused_with_what_is_wrong(notation: str, problem: str) -> None:
    with pytest.raises(CommandError, match=problem.replace("[", r"\[").replace("+", r"\+")):
        roll(notation, Loaded(*([1] * MAX_DICE)))


async def test_a_roll_is_answered_and_the_next_character_sees_it(make_app: AppFactory) -> None:
    backend = InstantBackend("A fine roll.")
    async with make_app(backend) as (app, adapter):
        rolled = await answer(app, adapter, "roll", "2d6+3")
        assert rolled.startswith("Ann rolls 2d6+3: [")
        assert adapter.replies == []
        turns = await app.store.recent_turns(ROOM, 5)
        assert [(t.speaker_name, t.is_character) for t in turns] == [("Ann", False)]
        assert turns[0].text == f"(rolls {rolled.removeprefix('Ann rolls ')})"
        await push(app, adapter, said("Mira, did you see that?"))
        prompt = "\n".join(m.content for m in backend.requests[-1].messages)
        assert turns[0].text in prompt
        assert await answer(app, adapter, "roll", "lots") == (
            "Cannot do that: cannot read the dice 'lots'; write them like 2d6+3, d20 or 4d6kh3"
        )
