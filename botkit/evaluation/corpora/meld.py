"""MELD (declare-lab/MELD): Friends dialogues, one CSV row per utterance."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from botkit.evaluation.corpora.common import (
    clean_text,
    csv_rows,
    friends_conversations,
    integer,
    split_label,
)
from botkit.evaluation.memory_data import DatasetError
from botkit.evaluation.turns_data import TurnsConversation

__all__ = ["read_meld"]

_COLUMNS = ("Utterance", "Speaker", "Dialogue_ID", "Utterance_ID")


def read_meld(path: Path) -> list[TurnsConversation]:
    """The multi-party dialogues of a MELD file such as ``dev_sent_emo.csv``, as released.

    Rows are grouped by Dialogue_ID and ordered by Utterance_ID; the friends who speak in
    a dialogue are its cast and anyone else who speaks is a person. Ids are
    ``meld-<split>-<Dialogue_ID>``. Raises DatasetError naming the file, line and column.
    """
    dialogues: defaultdict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for where, row in csv_rows(path, _COLUMNS):
        speaker = row["Speaker"].strip()
        if not speaker:
            raise DatasetError(f"{where}: Speaker: expected a name")
        dialogue = integer(row, "Dialogue_ID", where)
        utterance = integer(row, "Utterance_ID", where)
        text = clean_text(row["Utterance"])
        if text:
            dialogues[dialogue].append((utterance, speaker, text))
    split = split_label(path)
    return friends_conversations(
        (f"meld-{split}-{dialogue}", lines) for dialogue, lines in sorted(dialogues.items())
    )
