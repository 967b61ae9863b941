"""The conversation file formats the turn-taking eval reads, kept apart from their readers
so the command line lists them without importing the readers."""

from __future__ import annotations

__all__ = ["CORPUS_FORMATS"]

CORPUS_FORMATS = ("jsonl", "meld", "emorynlp", "molweni")
"""botkit's own JSON Lines, then the public corpora as released."""
