"""EmoryNLP (the Friends emotion corpus, as declare-lab/MELD ships it): one CSV row per line."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from botkit.evaluation.corpora.common import (
    UNKNOWN,
    clean_text,
    csv_rows,
    friends_conversations,
    integer,
    split_label,
)
from botkit.evaluation.memory_data import DatasetError
from botkit.evaluation.turns_data import TurnsConversation

__all__ = ["read_emorynlp"]

_COLUMNS = ("Utterance", "Speaker", "Scene_ID", "Utterance_ID", "Season", "Episode")
_FULL_NAMES = {
    "Ross Geller": "Ross",
    "Rachel Green": "Rachel",
    "Monica Geller": "Monica",
    "Chandler Bing": "Chandler",
    "Joey Tribbiani": "Joey",
    "Phoebe Buffay": "Phoebe",
}


def _speaker(raw: str, where: str) -> str:
    """The line's speaker from a list such as ``['Rachel Green']``: its first name, if any."""
    try:
        names = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DatasetError(f"{where}: Speaker: expected a list of names, got {raw!r}")
    first = next((n.strip() for n in names if n.strip()), UNKNOWN)
    return _FULL_NAMES.get(first, first)


def read_emorynlp(path: Path) -> list[TurnsConversation]:
    """The multi-party scenes of an EmoryNLP file such as ``emorynlp_dev_final.csv``.

    A scene is (Season, Episode, Scene_ID), its lines ordered by Utterance_ID. The friends'
    full names map to the friends MELD uses, and those who speak are the cast; anyone else
    is a person. A line said by several speakers is the first one's; a line with no
    speaker is said by a person called "Unknown". Ids are
    ``emorynlp-<split>-s<season>e<episode>c<scene>``. Raises DatasetError naming the
    file, line and column.
    """
    scenes: defaultdict[tuple[int, int, int], list[tuple[int, str, str]]] = defaultdict(list)
    for where, row in csv_rows(path, _COLUMNS):
        speaker = _speaker(row["Speaker"], where)
        season, episode, scene = (integer(row, c, where) for c in ("Season", "Episode", "Scene_ID"))
        utterance = integer(row, "Utterance_ID", where)
        text = clean_text(row["Utterance"])
        if text:
            scenes[season, episode, scene].append((utterance, speaker, text))
    split = split_label(path)
    return friends_conversations(
        (f"emorynlp-{split}-s{season}e{episode}c{scene}", lines)
        for (season, episode, scene), lines in sorted(scenes.items())
    )
