"""How much a line is worth remembering, from 0 (small talk) to 1 (a fact to keep).

Asking the model to rate every line would cost a model call per message; these signals
are cheap and catch what role-play memory needs most: names, numbers and dates,
people saying something about themselves, and substance over chatter.
"""

from __future__ import annotations

import re

__all__ = ["importance_of"]

_NUMBER = re.compile(r"\d")
_DATE_WORDS = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|birthday|"
    r"tomorrow|yesterday|anniversary|years? ago|next week|last week)\b",
    re.IGNORECASE,
)
_SELF = re.compile(
    r"\b(i am|i'm|my|i have|i've|i was|i will|i'll|i live|i work|i love|i hate|i never|"
    r"i always|we are|our)\b",
    re.IGNORECASE,
)
_PROMISE = re.compile(
    r"\b(promise|swear|remember|never forget|secret|owe|must|vow|plan|going to)\b",
    re.IGNORECASE,
)
_PROPER = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+")
_WORD = re.compile(r"\w+")


def importance_of(text: str) -> float:
    """A 0..1 estimate of how much ``text`` is worth recalling later."""
    words = _WORD.findall(text)
    if not words:
        return 0.0
    score = 0.2
    if len(words) >= 8:
        score += 0.1
    if len(words) >= 20:
        score += 0.1
    if _NUMBER.search(text) or _DATE_WORDS.search(text):
        score += 0.2
    if _SELF.search(text):
        score += 0.15
    if _PROMISE.search(text):
        score += 0.15
    if _PROPER.search(text):
        score += 0.1
    if len(words) <= 3:
        score -= 0.15
    return round(max(0.0, min(1.0, score)), 3)
