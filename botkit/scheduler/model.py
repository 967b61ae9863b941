"""The model policy: a model chooses who speaks next, held to the cast's names or NOBODY."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from botkit.backends.base import BackendError, ChatBackend, ChatMessage, ChatRequest, Sampling
from botkit.backends.choices import parse_choice
from botkit.characters.model import Character
from botkit.scheduler.base import Decision, Ranking, Scheduler, TurnContext, free_cast
from botkit.scheduler.text import name_key
from botkit.transcript import Turn

__all__ = ["NOBODY_CHOICE", "ModelPolicy", "choice_labels"]

log = logging.getLogger(__name__)

NOBODY_CHOICE = "NOBODY"
_DESCRIPTION_CHARS = 120
_TURN_CHARS = 300


def choice_labels(cast: Sequence[Character]) -> dict[str, str]:
    """The answer that stands for each cast member (character id → label).

    A label is the character's name, or its id where the name is taken by another cast
    member or would read as NOBODY.
    """
    labels: dict[str, str] = {}
    taken = {name_key(NOBODY_CHOICE)}
    for character in cast:
        label = character.name if name_key(character.name) not in taken else character.id
        taken.add(name_key(label))
        labels[character.id] = label
    return labels


class ModelPolicy:
    """Asks ``backend`` who speaks next: one cast member or NOBODY, in one short call.

    The answer is constrained to exactly those labels where the backend can hold it to
    them (llama.cpp grammar, vLLM structured outputs) and parsed strictly otherwise. The
    system message depends only on the cast, so a backend with prefix caching reuses it
    from one decision to the next. When the backend fails, takes longer than ``timeout``
    seconds or answers with something else, ``fallback`` decides instead.
    """

    name = "model"

    def __init__(
        self,
        *,
        backend: ChatBackend,
        fallback: Scheduler,
        timeout: float = 8.0,
        window: int = 10,
    ) -> None:
        if timeout <= 0 or window < 1:
            raise ValueError("the model policy needs a positive timeout and window")
        self._backend = backend
        self._fallback = fallback
        self._timeout = timeout
        self._window = window

    async def rank(self, context: TurnContext) -> Ranking:
        """The model's choice among the free cast first (NOBODY not offered), then the
        fallback's ranking of the rest; the fallback's ranking when the model fails."""
        fallback = await self._fallback.rank(context)
        free = free_cast(context)
        if len(free) < 2:
            return fallback
        answer = await self._ask(context, free, nobody=False)
        speaker = None if isinstance(answer, str) else answer[0]
        if isinstance(answer, str) or speaker is None:
            why = answer if isinstance(answer, str) else "answered NOBODY"
            log.info("model policy: %s; the %s ranking stands", why, self._fallback.name)
            return Ranking(fallback.speakers, fallback.scores, f"model {why}; {fallback.reason}")
        label = answer[1]
        rest = [cid for cid in fallback.speakers if cid != speaker]
        return Ranking(
            (speaker, *rest),
            (1.0, *(0.0 for _ in rest)),
            f"model: {label}; then {self._fallback.name}",
        )

    async def decide(self, context: TurnContext) -> Decision:
        """The model's choice among the cast members free to speak, or the fallback's."""
        free = free_cast(context)
        if not free:
            return Decision((), "model: nobody is free to speak")
        answer = await self._ask(context, free, nobody=True)
        if isinstance(answer, str):
            return await self._fall_back(context, answer)
        speaker, label = answer
        if speaker is None:
            return Decision((), "model: nobody")
        return Decision((speaker,), f"model: {label}")

    async def _ask(
        self, context: TurnContext, free: Sequence[Character], *, nobody: bool
    ) -> tuple[str | None, str] | str:
        """The model's pick (character id or None for NOBODY, and its label), or why not."""
        labels = choice_labels(context.cast)
        choices = (*(labels[c.id] for c in free), *((NOBODY_CHOICE,) if nobody else ()))
        # Every token holds at least one byte, so this fits the longest choice.
        request = ChatRequest(
            messages=(
                ChatMessage("system", _system_text(context.cast, labels)),
                ChatMessage("user", self._question(context.transcript, choices)),
            ),
            sampling=Sampling(
                temperature=0.0,
                max_tokens=4 + max(len(choice.encode("utf-8")) for choice in choices),
                stop=("\n",),
            ),
            choices=choices,
        )
        try:
            async with asyncio.timeout(self._timeout):
                answer = "".join([fragment async for fragment in self._backend.stream(request)])
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except BackendError as error:
            log.debug("model policy backend failure", exc_info=True)
            return str(error)
        choice = parse_choice(answer, choices)
        if choice is None:
            return f"answered {answer[:40]!r}"
        if choice == NOBODY_CHOICE:
            return None, choice
        return next(cid for cid, label in labels.items() if label == choice), choice

    async def _fall_back(self, context: TurnContext, why: str) -> Decision:
        log.info("model policy: %s; the %s policy decides", why, self._fallback.name)
        decision = await self._fallback.decide(context)
        return Decision(decision.speakers, f"model {why}; {decision.reason}")

    def _question(self, transcript: Sequence[Turn], choices: Sequence[str]) -> str:
        lines = [_line(turn) for turn in transcript[-self._window :]]
        return (
            "The chat so far:\n"
            + "\n".join(lines)
            + f"\n\nWho speaks next? Answer with exactly one of: {', '.join(choices)}."
        )


def _system_text(cast: Sequence[Character], labels: dict[str, str]) -> str:
    """Who is present and how to decide; the same for every decision with this cast."""
    lines = [
        "You direct a group role-play chat. After each message you decide which "
        f"character speaks next, or {NOBODY_CHOICE}.",
        "",
        "Characters:",
    ]
    for character in cast:
        lines.append(f"- {labels[character.id]}: {_describe(character)}")
    lines += [
        "",
        "A character who is spoken to, asked or clearly meant answers. A question to "
        "everyone goes to the character it concerns most. Answer "
        f"{NOBODY_CHOICE} when people talk among themselves about something no character "
        "cares about, or when an exchange has ended. Quiet characters speak only when "
        "it matters to them.",
    ]
    return "\n".join(lines)


def _describe(character: Character) -> str:
    text = character.summary or (character.persona[0] if character.persona else "")
    if len(text) > _DESCRIPTION_CHARS:
        text = text[:_DESCRIPTION_CHARS].rsplit(" ", 1)[0] + " …"
    if character.talkativeness >= 0.7:
        text += " (talkative)"
    elif character.talkativeness < 0.35:
        text += " (quiet)"
    return text


def _line(turn: Turn) -> str:
    text = " ".join(turn.text.split())
    if len(text) > _TURN_CHARS:
        text = text[:_TURN_CHARS] + " …"
    return f"{turn.speaker_name}: {text}"
