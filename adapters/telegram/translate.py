"""Pure translations from Telegram messages to botkit events."""

from __future__ import annotations

import telegram

from botkit.events import Author, ChannelKey, MessageEvent

__all__ = ["channel_key", "command_words", "message_event"]


def channel_key(message: telegram.Message) -> ChannelKey:
    """The conversation a message belongs to: its chat, or a forum topic within it."""
    chat = str(message.chat_id)
    topic = str(message.message_thread_id) if message.is_topic_message else None
    return ChannelKey("telegram", chat, chat, topic)


def message_event(message: telegram.Message) -> MessageEvent:
    """A botkit event for a member's text message (a repeated update keeps its event id)."""
    user = message.from_user
    author = (
        Author(str(user.id), user.full_name, user.is_bot)
        if user
        else Author(str(message.chat_id), message.chat.title or "channel")
    )
    mentions = tuple(
        message.parse_entity(entity).lstrip("@")
        for entity in message.entities
        if entity.type == telegram.MessageEntity.MENTION
    )
    reply = message.reply_to_message
    return MessageEvent(
        event_id=f"telegram:{message.chat_id}:{message.message_id}",
        channel=channel_key(message),
        author=author,
        text=message.text or "",
        message_id=str(message.message_id),
        time=message.date,
        mentions=mentions,
        reply_to=str(reply.message_id) if reply and not message.is_topic_message else None,
    )


def command_words(text: str) -> tuple[str, tuple[str, ...]]:
    """The command name (without ``/`` or ``@botname``) and its arguments."""
    words = text.split()
    return words[0].lstrip("/").split("@", 1)[0].lower(), tuple(words[1:])
