"""Scoring continuations from the logprobs an OpenAI-compatible server lists for a token.

One request for a single token with its ``top_logprobs`` scores any number of
continuations: each gets the logprob of the likeliest listed token that begins it. That
first token stands for the whole continuation, so a multi-token name ("Sir Aldric:") is
scored by its first token ("Sir"), and names that share their first token tie.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["TOP_LOGPROBS", "Alternatives", "first_token_alternatives", "score_continuations"]

TOP_LOGPROBS = 20
"""How many alternatives to ask for (the most the OpenAI API allows)."""

Alternatives = tuple[tuple[str, float], ...]
"""Token texts the server listed for one position, each with its natural-log probability."""


def first_token_alternatives(choice: Mapping[str, Any]) -> Alternatives | None:
    """The tokens listed for the first position of a streamed or complete choice (the
    chosen token and its ``top_logprobs``), or None when the choice carries no logprobs.

    Entries without a text token or a finite logprob are left out.
    """
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    if not isinstance(content, list) or not content or not isinstance(content[0], Mapping):
        return None
    first = content[0]
    listed = first.get("top_logprobs")
    entries = [first, *(listed if isinstance(listed, list) else ())]
    found = tuple(
        (entry["token"], float(entry["logprob"]))
        for entry in entries
        if isinstance(entry, Mapping)
        and isinstance(entry.get("token"), str)
        and isinstance(entry.get("logprob"), int | float)
        and not isinstance(entry.get("logprob"), bool)
        and math.isfinite(entry["logprob"])
    )
    return found or None


def score_continuations(
    alternatives: Alternatives, continuations: Sequence[str]
) -> tuple[float, ...]:
    """Each continuation's score from one position's alternatives.

    A continuation scores the logprob of the likeliest alternative whose text, without
    its leading whitespace, is a non-empty prefix of it (case counts). One that none
    begins gets the floor: the lowest listed logprob minus log 2, i.e. half as likely as
    the least likely listed token. No unlisted token is likelier than that listed one, so
    the floor ranks such continuations below every matched one without calling them
    impossible.

    Raises:
        ValueError: no alternatives.
    """
    if not alternatives:
        raise ValueError("scoring continuations needs at least one listed token")
    floor = min(logprob for _token, logprob in alternatives) - math.log(2)
    return tuple(
        max(
            (
                logprob
                for token, logprob in alternatives
                if (text := token.lstrip()) and continuation.startswith(text)
            ),
            default=floor,
        )
        for continuation in continuations
    )
