"""The turn-taking policies a channel can choose, by name, with what each does."""

from __future__ import annotations

__all__ = ["POLICY_SUMMARIES"]

POLICY_SUMMARIES = {
    "scoring": "characters answer when a message concerns them, asks something or calls the room",
    "likelihood": "the model's odds for each character's name tag, weighed with the scoring ranker",
    "model": "the model chooses who answers, or that nobody does",
    "round-robin": "characters answer people in turn",
    "manual": "characters answer only when addressed or asked with /say",
}
"""Every policy name, in the order commands list them, and a one-line summary of it."""
