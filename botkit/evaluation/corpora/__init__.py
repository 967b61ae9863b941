"""Readers for public multi-party conversation corpora, as their files are released.

Each turns a corpus file into the turn-taking eval's conversations: consecutive lines of
one speaker merged into one turn, and only conversations with at least three speakers
(people included) kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from botkit.evaluation.corpora.common import MIN_SPEAKERS
from botkit.evaluation.corpora.emorynlp import read_emorynlp
from botkit.evaluation.corpora.meld import read_meld
from botkit.evaluation.corpora.molweni import read_molweni
from botkit.evaluation.corpus_formats import CORPUS_FORMATS
from botkit.evaluation.memory_data import DatasetError
from botkit.evaluation.turns_data import TurnsConversation, load_turns

__all__ = ["CORPUS_FORMATS", "load_corpus", "read_emorynlp", "read_meld", "read_molweni"]

_READERS: dict[str, Callable[[Path], list[TurnsConversation]]] = {
    "jsonl": load_turns,
    "meld": read_meld,
    "emorynlp": read_emorynlp,
    "molweni": read_molweni,
}


def load_corpus(path: Path, format: str) -> list[TurnsConversation]:
    """The conversations of the file at ``path``, read as ``format`` (one of CORPUS_FORMATS).

    Raises:
        DatasetError: the file is unreadable or malformed, or holds no conversation.
        ValueError: ``format`` is not one of CORPUS_FORMATS.
    """
    if format not in _READERS:
        raise ValueError(f"no corpus format called {format!r} ({', '.join(CORPUS_FORMATS)})")
    found = _READERS[format](path)
    if not found:
        raise DatasetError(f"{path}: no conversation with {MIN_SPEAKERS} or more speakers")
    return found
