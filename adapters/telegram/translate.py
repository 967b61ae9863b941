"""Pure translations from Telegram messages to botkit events."""

from __future__ import annotations

from collections.abc import Mapping

import telegram

from botkit.events import Author, ChannelKey, MessageEvent

__all__ = ["author_of", "channel_key", "command_words", "event_id", "message_event"]


def event_id(message: telegram.Message) -> str:
    """The delivery id of a message: the same for every delivery of it, so repeats dedupe."""
    return f"telegram:{message.chat_id}:{message.message_id}"


def channel_key(message: telegram.Message) -> ChannelKey:
    """The conversation a message belongs to: its chat, or a forum topic within it."""
    chat = str(message.chat_id)
    topic = str(message.message_thread_id) if message.is_topic_message else None
    return ChannelKey("telegram", chat, chat, topic)


def author_of(message: telegram.Message) -> Author:
    """Who wrote a message: the user, or the chat an anonymous admin or channel posts as."""
    if message.sender_chat is not None:
        chat = message.sender_chat
        return Author(str(chat.id), chat.title or chat.effective_name or "anonymous")
    user = message.from_user
    if user is None:
        return Author(str(message.chat_id), message.chat.effective_name or "anonymous")
    return Author(str(user.id), user.full_name, user.is_bot)


def message_event(
    message: telegram.Message, bot_characters: Mapping[str, str] | None = None
) -> MessageEvent:
    """A botkit event for a member's text message.

    ``bot_characters`` maps lower-cased bot usernames to character ids, so ``@mira_bot``
    counts as a mention of Mira when she posts through her own bot.
    """
    characters = bot_characters or {}
    mentions = []
    for entity in message.entities:
        if entity.type == telegram.MessageEntity.MENTION:
            username = message.parse_entity(entity).lstrip("@")
            mentions.append(characters.get(username.lower(), username))
    reply = message.reply_to_message
    reply_to = None
    # In a forum topic, a message that answers nothing "replies" to the topic's opening.
    if reply is not None and reply.forum_topic_created is None:
        reply_to = str(reply.message_id)
    return MessageEvent(
        event_id=event_id(message),
        channel=channel_key(message),
        author=author_of(message),
        text=message.text or "",
        message_id=str(message.message_id),
        time=message.date,
        mentions=tuple(mentions),
        reply_to=reply_to,
    )


def command_words(text: str) -> tuple[str, tuple[str, ...]]:
    """The command name (lower case, without ``/`` or ``@botname``) and its arguments."""
    words = text.split()
    return words[0].lstrip("/").split("@", 1)[0].lower(), tuple(words[1:])
