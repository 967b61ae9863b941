"""Prompt assembly: lore around a character's fixed block, retrieved context and recent turns.

Everything is counted with the backend's tokenizer and kept within its budget.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import partial

from botkit.backends.base import ChatMessage
from botkit.characters.model import Character
from botkit.lore.engine import LoreSelection, select_lore
from botkit.lore.macros import NO_USER, expand_macros, user_name
from botkit.lore.model import LoreEntry
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
    """An assembled prompt with the token cost of each part, as counted for its backend.

    ``lore`` is what the lorebooks put in, by position; ``lore_tokens`` is its cost.
    ``turn_costs`` is what each included turn costs, oldest first; ``closing_tokens`` is
    the cost of the character's post-history instructions, the last message.
    """

    messages: tuple[ChatMessage, ...]
    character_tokens: int
    context_tokens: int
    turn_tokens: int
    turns_included: int
    budget: int
    lore_tokens: int = 0
    lore: LoreSelection = field(default_factory=LoreSelection)
    turn_costs: tuple[int, ...] = ()
    closing_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Everything the prompt costs, message overhead included."""
        return (
            self.character_tokens
            + self.lore_tokens
            + self.context_tokens
            + self.turn_tokens
            + self.closing_tokens
        )


def render_character_block(character: Character, *, user: str = NO_USER) -> str:
    """The fixed, prefix-stable description of ``character`` that opens its prompts.

    ``{{char}}`` and ``{{user}}`` macros in the character's texts are resolved here
    (``user`` names the person); a block without ``{{user}}`` never depends on it.
    """
    return expand_macros(_character_text(character), char=character.name, user=user)


def _character_text(character: Character) -> str:
    name = character.name
    summary = character.summary.strip().rstrip(".")
    if summary[:1].islower():
        lines = [f"You are {name}, {summary}."]
    else:
        lines = [f"You are {name}." + (f" {summary}." if summary else "")]
    if character.setting:
        lines += ["", f"Setting: {character.setting.strip()}"]
    lines += ["", f"About {name}:"]
    if character.description:
        lines.append(character.description.strip())
    lines += [f"- {line}" for line in character.persona]
    lines += [f"- {entry.text}" for entry in character.knowledge if not entry.keys]
    if character.personality:
        lines += ["", f"{name}'s personality: {character.personality.strip()}"]
    if character.scenario:
        lines += ["", f"Scenario: {character.scenario.strip()}"]
    if character.style:
        lines += ["", f"How {name} talks: {character.style}"]
    if character.as_of:
        lines += ["", f"It is {character.as_of}. {name} knows nothing of anything later."]
    dialogue = _example_dialogue(character.example_dialogue)
    if character.examples or dialogue:
        lines += ["", f"Examples of {name} talking:"]
        for example in character.examples:
            lines += [f"Someone: {example.user}", f"{name}: {example.reply}"]
        lines += dialogue
    instruction = (
        f"Stay in character. Write only {name}'s next line: one to three short sentences, "
        f"no name prefix, never lines for anyone else."
    )
    if character.system_prompt:
        instruction = _ORIGINAL.sub(instruction, character.system_prompt.strip())
    lines += ["", instruction]
    return "\n".join(lines)


_ORIGINAL = re.compile(r"\{\{original\}\}", re.IGNORECASE)
_START = re.compile(r"^\s*<START>\s*$", re.IGNORECASE | re.MULTILINE)


def _example_dialogue(text: str) -> list[str]:
    """A card's example dialogue as lines, without its ``<START>`` separators."""
    return [line for line in _START.sub("", text).splitlines() if line.strip()]


def post_history_text(character: Character, *, user: str = NO_USER) -> str:
    """The character's instructions that follow the chat (``{{original}}`` is empty here)."""
    text = _ORIGINAL.sub("", character.post_history_instructions).strip()
    return expand_macros(text, char=character.name, user=user) if text else ""


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

    The system message is ``[before_char lore] [character block] [after_char lore]
    [context]``, then come the turns. That is the Character Card meaning of the two lore
    positions, and its cost is prefix caching: lore placed ``before_char`` changes the
    start of the prompt whenever different entries activate, so servers re-read the
    character block. Constant entries keep the prefix stable either way; authors who care
    about caching put changing lore ``after_char``, and a character without
    ``before_char`` lore gets a prompt that opens with its (fixed) block as before.

    Lore comes first out of what the block leaves: each book within its token budget
    and all of it within half of the rest, so turns always have room. The newest turns
    are kept first; context snippets are dropped from the least important before any of
    the newest turn is.
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
        scene: str = "",
        lore: Collection[LoreEntry] = (),
    ) -> Prompt:
        """The prompt for ``speaker``'s next reply after ``transcript`` (oldest turn first).

        ``scene`` is searched for lore keys along with the turns; ``lore`` holds entries
        found by other means (by meaning), which activate as if a key had matched.
        """
        user = user_name(transcript)
        block = self._fit(render_character_block(speaker, user=user), self.budget // 2)
        character_tokens = self._cost(block)
        remaining = self.budget - character_tokens
        selection = select_lore(
            speaker.lorebooks,
            [turn.text for turn in transcript],
            counter=self._counter,
            prompt_budget=self.budget,
            limit=remaining // 2,
            scene=scene,
            retrieved=lore,
            render=partial(expand_macros, char=speaker.name, user=user),
        )
        before = "\n".join(a.text for a in selection.before_char)
        after = "\n".join(a.text for a in selection.after_char)
        lore_tokens = (self._counter.count(before + "\n\n") if before else 0) + (
            self._counter.count("\n\n" + after) if after else 0
        )
        remaining -= lore_tokens
        context_text = self._context_text(speaker, others, transcript, context, remaining // 3)
        context_tokens = self._cost(context_text) - self._overhead if context_text else 0
        remaining -= context_tokens
        closing = self._fit(post_history_text(speaker, user=user), remaining // 4)
        closing_tokens = self._cost(closing) if closing else 0
        remaining -= closing_tokens
        turns, turn_costs = self._recent_turns(speaker, transcript, remaining)
        parts = [before, block, after, context_text]
        system = "\n\n".join(part for part in parts if part)
        return Prompt(
            messages=(
                ChatMessage("system", system),
                *turns,
                *((ChatMessage("system", closing),) if closing else ()),
            ),
            character_tokens=character_tokens,
            context_tokens=context_tokens,
            turn_tokens=sum(turn_costs),
            turns_included=len(turns),
            budget=self.budget,
            lore_tokens=lore_tokens,
            lore=selection,
            turn_costs=tuple(turn_costs),
            closing_tokens=closing_tokens,
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
    ) -> tuple[list[ChatMessage], list[int]]:
        """The newest turns that fit ``limit``, one chat message each, and what each costs.

        The speaker's own turns are its (assistant) messages, everyone else's are user
        messages; each is tagged ``Name: text`` so the model knows who said what.
        """
        messages: list[ChatMessage] = []
        costs: list[int] = []
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
                        costs.append(self._cost(content))
                break
            messages.append(ChatMessage("assistant" if own else "user", content))
            costs.append(cost)
            spent += cost
        messages.reverse()
        costs.reverse()
        return messages, costs
