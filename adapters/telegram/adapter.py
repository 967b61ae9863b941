"""The Telegram adapter: long polling in, one shared bot (or a bot per character) out."""

from __future__ import annotations

import asyncio
import html
import logging
import warnings
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import telegram
from botkit.adapters.telegram.translate import channel_key, command_words, message_event
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import RetryAfter
from telegram.ext import ApplicationBuilder, CommandHandler, MessageHandler, filters
from telegram.warnings import PTBDeprecationWarning

from botkit.adapter import AdapterContext, Capabilities, EventSink
from botkit.events import ChannelKey, CommandEvent, Identity, Permission
from botkit.messages import split_text

__all__ = ["TelegramAdapter"]

log = logging.getLogger(__name__)

MAX_LENGTH = 4096
COMMANDS = {
    "cast": "Who is here",
    "characters": "Every character that can join",
    "info": "Describe a character",
    "add": "Bring characters in (admins)",
    "remove": "Send a character away (admins)",
    "swap": "Replace one character by another (admins)",
    "say": "Make a character speak next",
    "scene": "Set the scene (admins)",
    "status": "Cast, backends and limits",
    "help": "What the commands do",
}
_MANAGERS = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}


class TelegramAdapter:
    """Runs botkit on Telegram.

    The shared bot (``token``) receives messages and commands. Characters listed in
    ``bots`` (character id → token) post through their own bots, so each is a real member
    of the group; the others post through the shared bot with their name in bold. Bots
    never see other bots' messages on Telegram, so character-to-character turns are run
    by botkit itself. Cast and scene changes need a chat administrator. Flood control
    (``RetryAfter``) is waited out and the same message retried, never dropped.
    """

    name = "telegram"
    capabilities = Capabilities(personas=False, streaming=False, max_text_len=MAX_LENGTH)

    def __init__(
        self,
        *,
        token: str,
        bots: Mapping[str, str] | None = None,
        base_url: str | None = None,
        poll_timeout: float = 10.0,
        max_retries: int = 5,
    ) -> None:
        self._base_url = base_url
        self._poll_timeout = poll_timeout
        self._max_retries = max_retries
        self._application = self._builder(token).build()
        self._application.add_handler(CommandHandler(list(COMMANDS), self._on_command))
        self._application.add_handler(
            MessageHandler(filters.TEXT & ~filters.COMMAND & ~filters.VIA_BOT, self._on_message)
        )
        self._character_bots = {
            character: self._builder(bot_token).build().bot
            for character, bot_token in (bots or {}).items()
        }
        self._sink: EventSink | None = None
        self._closed = asyncio.Event()

    def __repr__(self) -> str:
        return f"TelegramAdapter(character_bots={sorted(self._character_bots)!r})"

    def _builder(self, token: str) -> ApplicationBuilder:
        builder = ApplicationBuilder().token(token)
        if self._base_url:
            builder = builder.base_url(self._base_url).base_file_url(
                self._base_url.rstrip("/").removesuffix("bot") + "file/bot"
            )
        return builder

    @classmethod
    def from_config(cls, options: Mapping[str, Any], context: AdapterContext) -> TelegramAdapter:
        """Build from the ``adapters.telegram`` config section."""
        token = options.get("token")
        if not token:
            raise ValueError("token is required (the bot token, e.g. token: ${TELEGRAM_TOKEN})")
        bots = options.get("bots") or {}
        if not isinstance(bots, Mapping):
            raise ValueError("bots must map character ids to bot tokens")
        return cls(
            token=str(token),
            bots={str(k): str(v) for k, v in bots.items()},
            base_url=options.get("base_url"),
            poll_timeout=float(options.get("poll_timeout", 10.0)),
        )

    @property
    def _bot(self) -> telegram.Bot:
        return self._application.bot

    async def start(self, sink: EventSink) -> None:
        """Connect every bot, register the command menu and start polling."""
        self._sink = sink
        await self._application.initialize()
        for bot in self._character_bots.values():
            await bot.initialize()
        await self._bot.set_my_commands(list(COMMANDS.items()))
        await self._application.start()
        updater = self._application.updater
        if updater is None:
            raise RuntimeError("telegram: the application has no updater")
        await updater.start_polling(timeout=int(self._poll_timeout), poll_interval=0.0)

    async def wait_closed(self) -> None:
        """Return once stopped."""
        await self._closed.wait()

    async def stop(self) -> None:
        """Stop polling and disconnect every bot."""
        if self._closed.is_set():
            return
        updater = self._application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self._application.running:
            await self._application.stop()
        await self._application.shutdown()
        for bot in self._character_bots.values():
            await bot.shutdown()
        self._closed.set()

    async def _on_message(self, update: telegram.Update, _context: object) -> None:
        message = update.effective_message
        if self._sink is None or message is None or not message.text:
            return
        if message.from_user is not None and message.from_user.is_bot:
            return
        await self._sink(message_event(message))

    async def _on_command(self, update: telegram.Update, _context: object) -> None:
        message = update.effective_message
        if self._sink is None or message is None or not message.text or not message.from_user:
            return
        name, args = command_words(message.text)
        user = message.from_user
        await self._sink(
            CommandEvent(
                event_id=f"telegram:{message.chat_id}:{message.message_id}",
                channel=channel_key(message),
                author=message_event(message).author,
                name=name,
                args=args,
                permissions=await self._permissions(message.chat, user.id),
            )
        )

    async def _permissions(self, chat: telegram.Chat, user_id: int) -> Permission:
        if chat.type == ChatType.PRIVATE:
            return Permission.MANAGE
        member = await self._bot.get_chat_member(chat.id, user_id)
        return Permission.MANAGE if member.status in _MANAGERS else Permission.NONE

    async def send_reply(
        self,
        *,
        channel: ChannelKey,
        identity: Identity,
        fragments: AsyncIterator[str],
        reply_to: str | None = None,
    ) -> str | None:
        """Post the reply as the character's own bot, or the shared bot with a name prefix."""
        bot = self._character_bots.get(identity.character_id, self._bot)
        await self._retrying(bot.send_chat_action, channel, action="typing")
        text = "".join([fragment async for fragment in fragments]).strip()
        if not text:
            return None
        prefix = "" if bot is not self._bot else f"{identity.name}: "
        sent: telegram.Message | None = None
        for index, piece in enumerate(split_text(text, MAX_LENGTH - len(prefix))):
            body = html.escape(piece, quote=False)
            if prefix:
                body = f"<b>{html.escape(identity.name, quote=False)}:</b> {body}"
            sent = await self._retrying(
                bot.send_message,
                channel,
                text=body,
                parse_mode=ParseMode.HTML,
                reply_to_message_id=int(reply_to) if reply_to and index == 0 else None,
            )
        return str(sent.message_id) if sent else None

    async def send_notice(
        self, *, channel: ChannelKey, text: str, command: CommandEvent | None = None
    ) -> None:
        """Post a command's answer (as a reply to the command) through the shared bot."""
        reply_to = int(command.event_id.rsplit(":", 1)[1]) if command else None
        for piece in split_text(text, MAX_LENGTH):
            await self._retrying(
                self._bot.send_message, channel, text=piece, reply_to_message_id=reply_to
            )
            reply_to = None

    async def _retrying(self, call: Any, channel: ChannelKey, **kwargs: Any) -> Any:
        """``call`` for the channel's chat, waiting out flood control up to ``max_retries``."""
        thread = int(channel.thread) if channel.thread else None
        for attempt in range(self._max_retries + 1):
            try:
                return await call(chat_id=int(channel.channel), message_thread_id=thread, **kwargs)
            except RetryAfter as error:
                if attempt == self._max_retries:
                    raise
                seconds = _seconds(error)
                log.warning("telegram flood control: waiting %.1f s before retrying", seconds)
                await asyncio.sleep(seconds)
        raise AssertionError("unreachable")


def _seconds(error: RetryAfter) -> float:
    """How long flood control asks to wait (PTB gives a number now, a timedelta later)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
