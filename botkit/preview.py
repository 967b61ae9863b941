"""``botkit characters preview``: the exact prompt a character gets in a sample scene.

Pack authors see every chat message with its role, which lore entries activated and
where, and what each part costs in tokens, without a model or a platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from botkit.backends.base import PromptLimits
from botkit.backends.llamacpp import LlamaCppBackend
from botkit.characters.loader import default_pack_path, load_pack
from botkit.characters.model import Character
from botkit.context import ContextRequest, KnowledgeProvider
from botkit.events import ChannelKey
from botkit.prompt import Prompt, PromptBuilder
from botkit.tokens import OFFLINE_ENCODING, TokenCounter, default_token_counter
from botkit.transcript import Turn

__all__ = [
    "CAST_SIZE",
    "REPLY_TOKENS",
    "SAMPLE_PERSON",
    "format_preview",
    "preview",
    "preview_prompt",
    "sample_turns",
]

SAMPLE_PERSON = "Ash"
"""The person who speaks in the sample scene."""
CAST_SIZE = 4
"""The sample scene's cast: the pack's first characters, as in a new channel."""
REPLY_TOKENS = 96
"""The reply budget of a character without ``backend.max_tokens`` (botkit's default)."""
_CHANNEL = ChannelKey("preview", "preview", "preview")
_TIME = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)


def _topics(character: Character) -> list[str]:
    """Words that activate the character's lore and keyed knowledge (plain keys only)."""
    keys = [
        entry.keys[0]
        for book in character.lorebooks
        for entry in book.entries
        if entry.enabled and entry.keys and not entry.use_regex and not entry.constant
    ]
    keys += [entry.keys[0] for entry in character.knowledge if entry.keys]
    return list(dict.fromkeys(keys))


def sample_turns(character: Character) -> list[Turn]:
    """Two turns of a person greeting ``character`` and asking about what it knows."""
    topics = _topics(character)[:2]
    if topics:
        words = " and ".join(f'"{topic}"' for topic in topics)
        question = f"I keep hearing {words} around town. What do you know?"
    else:
        question = "What is there to know about this place?"
    person = SAMPLE_PERSON.lower()
    return [
        Turn(
            person, SAMPLE_PERSON, f"Evening, {character.name}! Mind if I sit here?", False, _TIME
        ),
        Turn(person, SAMPLE_PERSON, question, False, _TIME),
    ]


async def preview_prompt(
    character: Character,
    others: Sequence[Character],
    *,
    counter: TokenCounter,
    context_window: int,
    reply_tokens: int,
    scene: str = "",
    limits: PromptLimits | None = None,
) -> Prompt:
    """The prompt ``character`` would get after :func:`sample_turns`, as a conversation builds it.

    The context holds the scene (when given) and the keyed knowledge the turns mention;
    lore is selected from the turns and the scene; ``limits`` are the backend's own.
    """
    turns = sample_turns(character)
    request = ContextRequest(speaker=character, channel=_CHANNEL, transcript=turns)
    snippets = [f"Scene: {scene}"] if scene else []
    snippets += await KnowledgeProvider().retrieve(request)
    builder = PromptBuilder(
        counter=counter, context_window=context_window, reply_tokens=reply_tokens, limits=limits
    )
    return builder.build(
        speaker=character, others=others, transcript=turns, context=snippets, scene=scene
    )


def format_preview(character: Character, prompt: Prompt, *, counter_name: str) -> str:
    """The prompt's messages, one block per message with its role, then the token counts."""
    lines = [
        f"Prompt of {character.name} in a sample scene (tokens counted by {counter_name})",
        "",
    ]
    for message in prompt.messages:
        lines += [f"----- {message.role} -----", message.content, ""]
    lore = prompt.lore
    lines.append("----- lore -----")
    for where, activations in (("before_char", lore.before_char), ("after_char", lore.after_char)):
        labels = ", ".join(f"{a.entry.label} ({a.trigger.name.lower()})" for a in activations)
        lines.append(f"{where}: {labels or 'nothing'}")
    rows = [
        ("character block", prompt.character_tokens),
        ("lore", prompt.lore_tokens),
        ("context", prompt.context_tokens),
    ]
    turns = prompt.messages[1 : 1 + prompt.turns_included]
    rows += [
        (f"turn {n} ({message.role})", cost)
        for n, (message, cost) in enumerate(zip(turns, prompt.turn_costs, strict=True), 1)
    ]
    if prompt.closing_tokens:
        rows.append(("after the chat", prompt.closing_tokens))
    rows += [("total", prompt.total_tokens), ("budget", prompt.budget)]
    lines += ["", "----- tokens -----"]
    width = max(len(label) for label, _ in rows)
    lines += [f"{label:<{width}}  {value:>5}" for label, value in rows]
    return "\n".join(lines)


async def preview(
    name: str,
    *,
    pack: Path | None = None,
    scene: str = "",
    counter: Literal["tiktoken", "embedded"] = "tiktoken",
) -> str:
    """The preview of the character ``name`` (id, name or nickname) of ``pack``.

    ``pack`` defaults to the shipped pack. Tokens are counted with tiktoken's offline
    encoding, or with the embedded model's own tokenizer (which loads the model).

    Raises:
        LookupError: the pack has no such character.
        CharacterValidationError: the pack does not load.
    """
    loaded = load_pack(pack or default_pack_path())
    wanted = name.casefold()
    character = next(
        (c for c in loaded.characters if wanted in {n.casefold() for n in c.names}), None
    )
    if character is None:
        known = ", ".join(c.id for c in loaded.characters)
        raise LookupError(f"pack {loaded.name!r} has no character {name!r} (it has {known})")
    backend = LlamaCppBackend()
    others = [c for c in loaded.characters[:CAST_SIZE] if c.id != character.id]
    reply_tokens = character.backend.max_tokens or REPLY_TOKENS
    if counter == "embedded":
        await backend.load()
        try:
            prompt = await preview_prompt(
                character,
                others,
                counter=backend.token_counter,
                context_window=backend.context_window,
                reply_tokens=reply_tokens,
                scene=scene,
                limits=backend.prompt_limits,
            )
        finally:
            await backend.aclose()
        used = f"the embedded model's tokenizer ({backend.model_path.name})"
    else:
        prompt = await preview_prompt(
            character,
            others,
            counter=default_token_counter(),
            context_window=backend.context_window,
            reply_tokens=reply_tokens,
            scene=scene,
        )
        used = f"tiktoken {OFFLINE_ENCODING}"
    return format_preview(character, prompt, counter_name=used)
