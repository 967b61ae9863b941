"""``/roll``: dice in the usual notation, with the result in the transcript for the cast."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from botkit.plugin import Argument, CommandCall, CommandError, Plugin

__all__ = ["MAX_DICE", "MAX_SIDES", "Roll", "plugin", "roll"]

plugin = Plugin("dice", "roll dice: /roll 2d6+3, /roll 4d6kh3")

MAX_DICE = 100
"""The most dice one roll may throw, all terms together."""
MAX_SIDES = 1000
MAX_TERMS = 10
MAX_MODIFIER = 10_000
_TERM = re.compile(r"([+-]?)(?:(\d*)d(\d+)(?:(kh|kl|k)(\d+))?|(\d+))")
_RANDOM = random.SystemRandom()


@dataclass(frozen=True, slots=True)
class Roll:
    """A roll's notation, the dice each term threw (kept ones first), and the total."""

    notation: str
    parts: tuple[str, ...]
    total: int

    def describe(self) -> str:
        """``2d6+3: [4, 2] + 3 = 9``."""
        return f"{self.notation}: {' '.join(self.parts)} = {self.total}"


def roll(notation: str, rng: random.Random = _RANDOM) -> Roll:
    """Throw the dice ``notation`` asks for: terms such as ``2d6``, ``d20``, ``4d6kh3``
    (keep the highest 3), ``2d20kl1`` (keep the lowest), or a number, joined by + or -.

    Raises:
        CommandError: the notation is not understood, or asks for more than
            :data:`MAX_DICE` dice, dice of more than :data:`MAX_SIDES` sides, more than
            :data:`MAX_TERMS` terms, or a number above :data:`MAX_MODIFIER`.
    """
    text = "".join(notation.lower().split())
    terms = list(_TERM.finditer(text))
    if not text or "".join(m.group(0) for m in terms) != text or text[0] == "+":
        raise CommandError(
            f"cannot read the dice {notation!r}; write them like 2d6+3, d20 or 4d6kh3"
        )
    if len(terms) > MAX_TERMS:
        raise CommandError(f"a roll has at most {MAX_TERMS} terms")
    thrown = sum(int(m.group(2) or 1) for m in terms if m.group(3))
    if thrown > MAX_DICE:
        raise CommandError(f"a roll throws at most {MAX_DICE} dice; {notation!r} asks {thrown}")
    parts: list[str] = []
    total = 0
    for index, match in enumerate(terms):
        sign = -1 if match.group(1) == "-" else 1
        joiner = ("- " if sign < 0 else "+ ") if index else ("-" if sign < 0 else "")
        if match.group(6) is not None:
            value = int(match.group(6))
            if value > MAX_MODIFIER:
                raise CommandError(f"numbers in a roll go up to {MAX_MODIFIER}")
            parts.append(f"{joiner}{value}")
            total += sign * value
            continue
        count, sides = int(match.group(2) or 1), int(match.group(3))
        if not count >= 1 or not 2 <= sides <= MAX_SIDES:
            raise CommandError(f"dice have 2 to {MAX_SIDES} sides, and a term throws at least one")
        dice = [rng.randint(1, sides) for _ in range(count)]
        kept = _kept(dice, match.group(4), match.group(5))
        dropped = list(dice)
        for value in kept:
            dropped.remove(value)
        shown = f"{kept}" + (f" (dropped {dropped})" if dropped else "")
        parts.append(f"{joiner}{shown}")
        total += sign * sum(kept)
    return Roll(notation.strip(), tuple(parts), total)


def _kept(dice: list[int], how: str | None, count: str | None) -> list[int]:
    if how is None or count is None:
        return dice
    keep = int(count)
    if not 1 <= keep <= len(dice):
        raise CommandError(f"keep between 1 and {len(dice)} dice, not {keep}")
    ordered = sorted(dice, reverse=how != "kl")
    return ordered[:keep]


@plugin.command("roll", "roll dice: 2d6+3, d20, 4d6kh3", Argument("dice", "what to roll"))
async def roll_command(call: CommandCall) -> str:
    """``/roll``: the answer names the roller; the transcript keeps the roll for the cast."""
    result = roll(call.args["dice"])
    author = call.event.author
    await call.conversation.record_note(author, f"(rolls {result.describe()})")
    return f"{author.name} rolls {result.describe()}"
