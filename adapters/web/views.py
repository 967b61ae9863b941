"""What the playground's API answers, as plain JSON data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botkit.characters.model import Character
from botkit.memory.records import Memory
from botkit.trace import ReplyTrace, TurnTrace
from botkit.transcript import Turn

__all__ = ["character_view", "memory_view", "trace_view", "turn_view"]


def character_view(character: Character) -> dict[str, Any]:
    """A character as the cast panel shows it."""
    avatar = character.avatar if character.avatar and "://" in character.avatar else None
    return {
        "id": character.id,
        "name": character.name,
        "summary": character.summary,
        "avatar": avatar,
        "color": character.color,
    }


def memory_view(memory: Memory, score: float | None) -> dict[str, Any]:
    """A memory as the memory panel lists it."""
    return {
        "id": memory.id,
        "kind": memory.kind,
        "speaker": memory.speaker_name,
        "text": memory.text,
        "time": memory.time.isoformat(timespec="minutes"),
        "witnesses": sorted(memory.witnesses),
        "score": None if score is None else round(score, 4),
    }


def turn_view(turn: Turn, characters: Mapping[str, Character]) -> dict[str, Any]:
    """A stored turn as the chat shows it."""
    character = characters.get(turn.speaker_id) if turn.is_character else None
    return {
        "id": turn.message_id,
        "name": turn.speaker_name,
        "text": turn.text,
        "character_id": character.id if character else None,
        "color": character.color if character else None,
        "avatar": character_view(character)["avatar"] if character else None,
    }


def trace_view(trace: TurnTrace, reply: ReplyTrace | None) -> dict[str, Any]:
    """A decision and (when asked about a reply) that reply's make-up."""
    view: dict[str, Any] = {
        "policy": trace.policy,
        "reason": trace.reason,
        "speakers": list(trace.speakers),
        "nobody": trace.nobody,
        "trigger": trace.trigger_text,
        "candidates": [
            {
                "id": candidate.character_id,
                "score": round(candidate.score, 4),
                "features": [[name, round(value, 4)] for name, value in candidate.features],
            }
            for candidate in trace.candidates
        ],
        "reply": None,
    }
    if reply is not None:
        view["reply"] = {
            "character_id": reply.character_id,
            "backend": reply.backend,
            "prompt_tokens": [[part, tokens] for part, tokens in reply.prompt_tokens],
            "recalled": [
                {
                    "kind": item.kind,
                    "text": item.text,
                    "score": None if item.score is None else round(item.score, 4),
                    "detail": item.detail,
                }
                for item in reply.recalled
            ],
            "first_token_ms": None
            if reply.first_token_seconds is None
            else round(reply.first_token_seconds * 1000, 1),
            "total_ms": round(reply.seconds * 1000, 1),
        }
    return view
