"""Pure translations from Slack event payloads to botkit events."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botkit.events import Author, ChannelKey, MessageEvent

__all__ = ["channel_key", "is_member_message", "message_event"]

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]+))?>")


def channel_key(team_id: str, channel: str, thread_ts: str | None = None) -> ChannelKey:
    """The conversation of a Slack channel, or of a thread in it."""
    return ChannelKey("slack", team_id, channel, thread_ts)


def is_member_message(event: Mapping[str, Any]) -> bool:
    """Whether the event is a person's new text message (not a bot's, an edit or a join)."""
    if event.get("bot_id") or event.get("subtype") not in (None, "thread_broadcast"):
        return False
    return bool(event.get("user")) and bool(str(event.get("text", "")).strip())


def message_event(
    event: Mapping[str, Any], *, event_id: str, team_id: str, author_name: str
) -> MessageEvent:
    """A botkit event for a member's message; user mentions become their names in the text."""
    thread = event.get("thread_ts")
    text = str(event.get("text", ""))
    mentions = tuple(label or user for user, label in _MENTION.findall(text))
    text = _MENTION.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    return MessageEvent(
        event_id=f"slack:{event_id}",
        channel=channel_key(team_id, str(event["channel"]), str(thread) if thread else None),
        author=Author(str(event["user"]), author_name),
        text=text,
        message_id=str(event["ts"]),
        time=datetime.fromtimestamp(float(event["ts"]), UTC),
        mentions=mentions,
        reply_to=str(thread) if thread and thread != event["ts"] else None,
    )
