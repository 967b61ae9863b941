"""How far the cast got in answering one message, kept so a restart never answers twice."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["ChainProgress"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChainProgress:
    """The state of the chain of character turns set off by one incoming message.

    It is stored with every reply of the chain, in the same transaction, so that after a
    crash the chain resumes with the next speaker: the ones who already replied do not
    reply again. ``speakers`` are the current round's speakers (the first round answers the
    message, later ones are follow-ups) and ``done`` how many of them had their turn.
    """

    event_id: str | None
    """The delivery of the message being answered (None: a chain that is not kept)."""
    speakers: tuple[str, ...]
    done: int = 0
    reply_to: str | None = None
    """The message the current round answers."""
    turns: int = 0
    """Character turns taken in the whole chain."""
    follow_ups: int = 0
    """Speakers chosen for follow-up rounds so far."""
    cue: str | None = None
    """The character the last speaker began to speak for, invited to follow."""
    spoke: bool = False
    """Whether any turn of the chain said something."""
    owed: tuple[str, ...] = ()
    """The characters the message spoke to, owed an answer if the chain stops early."""

    @property
    def next_speaker(self) -> str | None:
        """The id of the character whose turn is next in this round, if any."""
        return self.speakers[self.done] if self.done < len(self.speakers) else None

    def after_turn(self, *, said: bool, cue: str | None) -> ChainProgress:
        """The progress once the next speaker had its turn."""
        return replace(
            self, done=self.done + 1, turns=self.turns + 1, cue=cue, spoke=self.spoke or said
        )

    def next_round(self, speakers: tuple[str, ...], *, reply_to: str | None) -> ChainProgress:
        """The progress as the follow-up round of ``speakers`` begins."""
        return replace(
            self,
            speakers=speakers,
            done=0,
            reply_to=reply_to,
            follow_ups=self.follow_ups + len(speakers),
        )

    def encode(self) -> str:
        """The progress as stored (JSON text, without the event id it is stored under)."""
        return json.dumps(
            {
                "speakers": list(self.speakers),
                "done": self.done,
                "reply_to": self.reply_to,
                "turns": self.turns,
                "follow_ups": self.follow_ups,
                "cue": self.cue,
                "spoke": self.spoke,
                "owed": list(self.owed),
            }
        )

    @classmethod
    def decode(cls, event_id: str, text: str) -> ChainProgress | None:
        """The progress stored for ``event_id``, or None when the text cannot be read."""
        try:
            data: dict[str, Any] = json.loads(text)
            progress = cls(
                event_id=event_id,
                speakers=tuple(str(s) for s in data["speakers"]),
                done=int(data["done"]),
                reply_to=_optional_text(data["reply_to"]),
                turns=int(data["turns"]),
                follow_ups=int(data["follow_ups"]),
                cue=_optional_text(data["cue"]),
                spoke=bool(data["spoke"]),
                owed=tuple(str(s) for s in data["owed"]),
            )
        except (ValueError, TypeError, KeyError) as error:
            log.warning("progress of event %s unreadable, answering it afresh", event_id)
            log.debug("unreadable progress %r: %s", text, error)
            return None
        return progress


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)
