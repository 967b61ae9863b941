"""Prompt assembly: a character's fixed block, retrieved context and recent turns, in budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from botkit.backends.base import ChatMessage
from botkit.characters.model import Character
from botkit.tokens import TokenCounter
from botkit.transcript import Turn

__all__ = ["Prompt", "PromptBuilder", "render_character_block"]

ELLIPSIS = " …"
PEOPLE_WINDOW = 20
"""How many recent turns are searched for the people taking part."""
INTRODUCTION_CHARS = 90
"""The longest description of another character a prompt carries."""


@dataclass(frozen=True, slots=True)
class Prompt:
    """An assembled prompt with the token cost of each part, as counted for its backend."""

    messages: tuple[ChatMessage, ...]
    character_tokens: int
    context_tokens: int
    turn_tokens: int
    turns_included: int
    budget: int

    @property
    def total_tokens(self) -> int:
        """Everything the prompt costs, message overhead included."""
        return self.character_tokens + self.context_tokens + self.turn_tokens


def render_character_block(character: Character) -> str:
    """The fixed, prefix-stable description of ``character`` that opens its prompts."""
    name = character.name
    lines = [f"You are {name}." + (f" {character.summary}" if character.summary else "")]
    if character.setting:
        lines += ["", f"Setting: {character.setting.strip()}"]
    lines += ["", f"About {name}:"]
    lines += [f"- {line}" for line in character.persona]
    lines += [f"- {entry.text}" for entry in character.knowledge if not entry.keys]
    if character.style:
        lines += ["", f"How {name} talks: {character.style}"]
    if character.as_of:
        lines += ["", f"It is {character.as_of}. {name} knows nothing of anything later."]
    if character.examples:
        lines += ["", f"Examples of {name} talking:"]
        for example in character.examples:
            lines += [f"Someone: {example.user}", f"{name}: {example.reply}"]
    lines += [
        "",
        f"Stay in character. Write only {name}'s next line: one to three short sentences, "
        f"no name prefix, never lines for anyone else.",
    ]
    return "\n".join(lines)


def _company(
    speaker: Character, others: Sequence[Character], transcript: Sequence[Turn]
) -> list[str]:
    """Who else is present: each other character in a short line, then the people.

    A character is described by its summary (or its first persona line, shortened), not
    its whole card, so the speaker can address it correctly at little cost. People are
    the humans who wrote among the last :data:`PEOPLE_WINDOW` turns, in order of appearance.
    """
    lines = []
    present = [other for other in others if other.id != speaker.id]
    if present:
        lines.append("Also here: " + "; ".join(_introduce(o) for o in present) + ".")
    people = list(
        dict.fromkeys(t.speaker_name for t in transcript[-PEOPLE_WINDOW:] if not t.is_character)
    )
    if people:
        lines.append("People in the conversation: " + ", ".join(people) + ".")
    return lines


def _introduce(character: Character) -> str:
    about = character.summary or (character.persona[0] if character.persona else "")
    if len(about) > INTRODUCTION_CHARS:
        about = about[:INTRODUCTION_CHARS].rsplit(" ", 1)[0] + ELLIPSIS
    return f"{character.name} ({about.rstrip('.')})" if about else character.name


class PromptBuilder:
    """Builds a speaker's prompt within a backend's context window.

    The order never changes (character block, then context, then turns) so servers with
    prefix caching reuse the character block. The newest turns are kept first; context
    snippets are dropped from the least important before any of the newest turn is.
    """

    def __init__(
        self,
        *,
        counter: TokenCounter,
        context_window: int,
        reply_tokens: int,
        margin: float = 0.1,
        message_overhead: int = 6,
    ) -> None:
        self._counter = counter
        self._overhead = message_overhead
        self._reply_tokens = reply_tokens
        self.budget = int(context_window * (1.0 - margin)) - reply_tokens
        if self.budget < 64:
            raise ValueError(
                f"context window {context_window} leaves no room for a prompt "
                f"after {reply_tokens} reply tokens"
            )

    def build(
        self,
        *,
        speaker: Character,
        others: Sequence[Character],
        transcript: Sequence[Turn],
        context: Sequence[str] = (),
    ) -> Prompt:
        """The prompt for ``speaker``'s next reply after ``transcript`` (oldest turn first)."""
        block = self._fit(render_character_block(speaker), self.budget // 2)
        character_tokens = self._cost(block)
        remaining = self.budget - character_tokens
        context_text = self._context_text(speaker, others, transcript, context, remaining // 3)
        context_tokens = self._cost(context_text) - self._overhead if context_text else 0
        remaining -= context_tokens
        turns, turn_tokens = self._recent_turns(speaker, transcript, remaining)
        system = block + ("\n\n" + context_text if context_text else "")
        return Prompt(
            messages=(ChatMessage("system", system), *turns),
            character_tokens=character_tokens,
            context_tokens=context_tokens,
            turn_tokens=turn_tokens,
            turns_included=len(turns),
            budget=self.budget,
        )

    def _cost(self, content: str) -> int:
        return self._counter.count(content) + self._overhead

    def _fit(self, text: str, limit: int) -> str:
        """``text`` cut (at a word) so that, as one message, it costs at most ``limit``."""
        if self._cost(text) <= limit:
            return text
        low, high = 0, len(text)
        while low < high:
            mid = (low + high + 1) // 2
            if self._cost(text[:mid].rstrip() + ELLIPSIS) <= limit:
                low = mid
            else:
                high = mid - 1
        return text[:low].rstrip() + ELLIPSIS if low else ""

    def _context_text(
        self,
        speaker: Character,
        others: Sequence[Character],
        transcript: Sequence[Turn],
        snippets: Sequence[str],
        limit: int,
    ) -> str:
        sections = _company(speaker, others, transcript)
        if snippets:
            sections.append(f"{speaker.name} recalls:")
        kept: list[str] = []
        for snippet in snippets:
            candidate = "\n".join([*sections, *kept, f"- {snippet}"])
            if self._cost("\n\n" + candidate) > limit:
                break
            kept.append(f"- {snippet}")
        if not kept and snippets:
            sections.pop()
        text = "\n".join([*sections, *kept])
        return self._fit(text, limit) if text else ""

    def _recent_turns(
        self, speaker: Character, transcript: Sequence[Turn], limit: int
    ) -> tuple[list[ChatMessage], int]:
        """The newest turns that fit ``limit``, one chat message each, and their cost.

        The speaker's own turns are its (assistant) messages, everyone else's are user
        messages; each is tagged ``Name: text`` so the model knows who said what.
        """
        messages: list[ChatMessage] = []
        spent = 0
        for turn in reversed(transcript):
            own = turn.is_character and turn.speaker_id == speaker.id
            content = f"{turn.speaker_name}: {turn.text}"
            cost = self._cost(content)
            if spent + cost > limit:
                if not messages:
                    content = self._fit(content, limit)
                    if content:
                        messages.append(ChatMessage("assistant" if own else "user", content))
                        spent = self._cost(content)
                break
            messages.append(ChatMessage("assistant" if own else "user", content))
            spent += cost
        messages.reverse()
        return messages, spent
