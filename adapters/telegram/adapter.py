"""The Telegram adapter: long polling in, one shared bot (or a bot per character) out."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

import telegram
from botkit.adapters.telegram.translate import (
    author_of,
    channel_key,
    command_words,
    event_id,
    message_event,
)
from telegram.constants import ChatAction, ChatMemberStatus, ChatType, ParseMode
from telegram.error import Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters
from telegram.warnings import PTBDeprecationWarning

from botkit.adapter import AdapterContext, Capabilities, EventSink
from botkit.events import ChannelKey, CommandEvent, Identity, Permission
from botkit.messages import split_text
from botkit.options import Option
from botkit.plugin import Command, first_words, menu_entries
from botkit.redaction import RedactingFilter

__all__ = ["TelegramAdapter"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_LENGTH = 4096
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
RECEIVER_WAIT_S = 1.0
"""How often a process that does not poll the bot (another one does) asks again."""
_MANAGERS = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}


class TelegramAdapter:
    """Runs botkit on Telegram.

    The shared bot (``token``) receives messages and commands by long polling; give it
    privacy mode off (or make it an admin) so it sees every group message. Characters
    listed in ``bots`` (character id → token) post through their own bots, so each is a
    real member of the group; the others post through the shared bot with their name in
    bold. Bots never see other bots' messages on Telegram, so character-to-character
    turns are run by botkit itself. Cast and scene changes need a chat administrator (in
    a private chat the user may do anything). Flood control (``RetryAfter``) is waited
    out and the same message retried (``max_retries`` times at most), never sent twice.
    """

    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "token": Option("text", required=True),
        "bots": Option("mapping"),
        "base_url": Option("url"),
        "poll_timeout": Option("number", 0),
    }
    """What ``adapters.telegram`` takes; checked with the rest of the config."""
    name = "telegram"
    capabilities = Capabilities(
        personas=False, streaming=False, max_text_len=MAX_LENGTH, typing=True
    )

    def __init__(
        self,
        *,
        token: str,
        bots: Mapping[str, str] | None = None,
        base_url: str | None = None,
        poll_timeout: float = 10.0,
        max_retries: int = 5,
        receiver: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        if poll_timeout < 1:
            raise ValueError("poll_timeout must be at least 1 second")
        # Request URLs carry the token, and the libraries log them; mask ours everywhere.
        self._redactor = RedactingFilter([token, *(bots or {}).values()])
        self._masked = list(logging.getLogger().handlers)
        for handler in self._masked:
            handler.addFilter(self._redactor)
        url = base_url or DEFAULT_BASE_URL
        self._poll_timeout = timedelta(seconds=round(poll_timeout))
        self._max_retries = max_retries
        self._application = ApplicationBuilder().token(token).base_url(url).updater(None).build()
        self._application.add_handler(
            MessageHandler(
                filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, self._on_message
            )
        )
        self._character_bots = {
            character: telegram.Bot(bot_token, base_url=url)
            for character, bot_token in (bots or {}).items()
        }
        self._bot_characters: dict[str, str] = {}
        self._sink: EventSink | None = None
        self._closed = asyncio.Event()
        self._polling: asyncio.Task[None] | None = None
        self._receiver = receiver
        self._receiving_as = f"telegram:{token.partition(':')[0]}"
        """The lease name polling this bot goes by (its numeric id, never the secret)."""

    def __repr__(self) -> str:
        return f"TelegramAdapter(character_bots={sorted(self._character_bots)!r})"

    @classmethod
    def from_config(cls, options: Mapping[str, Any], context: AdapterContext) -> TelegramAdapter:
        """Build from the ``adapters.telegram`` config section.

        ``token`` (required), ``bots`` (character id → token), ``base_url`` and
        ``poll_timeout`` (seconds a long poll may wait).
        """
        token = options.get("token")
        if not token:
            raise ValueError("token is required (the bot token, e.g. token: ${TELEGRAM_TOKEN})")
        bots = options.get("bots") or {}
        if not isinstance(bots, Mapping):
            raise ValueError("bots must map character ids to bot tokens")
        return cls(
            token=str(token),
            bots={str(character): str(bot_token) for character, bot_token in bots.items()},
            base_url=options.get("base_url"),
            poll_timeout=float(options.get("poll_timeout", 10.0)),
            receiver=context.receiver,
        )

    @property
    def _shared(self) -> telegram.Bot:
        return self._application.bot

    async def start(self, sink: EventSink, commands: Sequence[Command] = ()) -> None:
        """Connect every bot, offer ``commands`` as the command menu and start polling.

        Raises:
            ValueError: Telegram rejected a bot token (the setting is named, never the token).
        """
        self._sink = sink
        if commands:
            self._application.add_handler(
                CommandHandler(
                    sorted(first_words(commands)), self._on_command, filters.UpdateType.MESSAGE
                )
            )
        await self._connect(self._application.initialize(), "token")
        for character, bot in self._character_bots.items():
            await self._connect(bot.initialize(), f"bots.{character}")
            self._bot_characters[bot.username.lower()] = character
        await self._shared.set_my_commands(list(menu_entries(commands).items()))
        await self._application.start()
        self._polling = asyncio.create_task(self._poll(), name="botkit: telegram polling")

    async def _poll(self) -> None:
        """Fetch updates and hand each to the handlers, confirming one only once handled.

        Telegram forgets an update once a later ``getUpdates`` asks from past it, so the
        offset moves past an update only after its message was handed to botkit (which
        stores it before it returns): a process killed in between is sent the update again
        on its next start, and botkit drops what it already has.

        Telegram answers one poller of a bot at a time; where several processes run the
        bot, the one holding the bot's lease polls, the others only send.
        """
        offset: int | None = None
        failures = 0
        while True:
            if not await self._may_poll():
                await asyncio.sleep(RECEIVER_WAIT_S)
                continue
            try:
                updates = await self._shared.get_updates(
                    offset=offset,
                    timeout=self._poll_timeout,
                    allowed_updates=[telegram.Update.MESSAGE],
                )
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error))
                continue
            except TelegramError as error:
                failures += 1
                wait = min(30.0, 2.0 ** min(failures, 5))
                log.warning("telegram: fetching updates failed (%s); again in %.0f s", error, wait)
                await asyncio.sleep(wait)
                continue
            failures = 0
            for update in updates:
                await self._application.process_update(update)
                offset = update.update_id + 1

    async def _may_poll(self) -> bool:
        """Whether this process polls the bot now (no answer from the store: not now)."""
        if self._receiver is None:
            return True
        try:
            return await self._receiver(self._receiving_as)
        except Exception as error:
            log.warning("telegram: cannot tell whether to poll (%s); asking again", error)
            return False

    async def _connect(self, connecting: Awaitable[None], setting: str) -> None:
        """Wait for a bot's first answer from Telegram; a refused token names its setting."""
        try:
            await connecting
        except InvalidToken as error:
            log.debug("telegram: %s", self._redactor.redact(str(error)))
            raise ValueError(
                f"Telegram rejected the bot token in adapters.telegram.{setting} "
                "(revoked or mistyped? BotFather shows the current one)"
            ) from None

    async def wait_closed(self) -> None:
        """Return once stopped."""
        await self._closed.wait()

    async def stop(self) -> None:
        """Stop polling and disconnect every bot (also after a failed start)."""
        if self._closed.is_set():
            return
        if self._polling is not None:
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
        if self._application.running:
            await self._application.stop()
        await self._application.shutdown()
        for bot in self._character_bots.values():
            await bot.shutdown()
        for handler in self._masked:
            handler.removeFilter(self._redactor)
        self._closed.set()

    async def _on_message(self, update: telegram.Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if self._sink is None or message is None or not message.text:
            return
        if author_of(message).is_bot:
            return
        await self._sink(message_event(message, self._bot_characters))

    async def _on_command(self, update: telegram.Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if self._sink is None or message is None or not message.text:
            return
        author = author_of(message)
        if author.is_bot:
            return
        name, args = command_words(message.text)
        await self._sink(
            CommandEvent(
                event_id=event_id(message),
                channel=channel_key(message),
                author=author,
                name=name,
                args=args,
                permissions=await self._permissions(message),
            )
        )

    async def _permissions(self, message: telegram.Message) -> Permission:
        """MANAGE for a chat administrator or owner (or anyone in a private chat)."""
        chat = message.chat
        if chat.type == ChatType.PRIVATE:
            return Permission.MANAGE
        if message.sender_chat is not None:
            # Anonymous administrators post as the group itself.
            return Permission.MANAGE if message.sender_chat.id == chat.id else Permission.NONE
        if message.from_user is None:
            return Permission.NONE
        user_id = message.from_user.id
        try:
            member = await self._retrying(lambda: self._shared.get_chat_member(chat.id, user_id))
        except TelegramError as error:
            log.warning("telegram: could not check rights in chat %s: %s", chat.id, error)
            return Permission.NONE
        return Permission.MANAGE if member.status in _MANAGERS else Permission.NONE

    async def post_reply(
        self, *, channel: ChannelKey, identity: Identity, text: str, reply_to: str | None = None
    ) -> str | None:
        """Post the reply as the character's own bot, or the shared bot with a name prefix
        (also when the own bot may not post in the chat)."""
        own_bot = self._character_bots.get(identity.character_id)
        if own_bot is not None:
            try:
                return await self._send(own_bot, channel, text, reply_to)
            except Forbidden as error:
                log.warning(
                    "telegram: %s's own bot may not post in chat %s (%s); using the shared bot",
                    identity.character_id,
                    channel.channel,
                    error,
                )
        body = f"<b>{html.escape(identity.name, quote=False)}:</b> {html.escape(text, quote=False)}"
        return await self._send(self._shared, channel, body, reply_to, ParseMode.HTML)

    async def show_typing(self, *, channel: ChannelKey, identity: Identity) -> None:
        """Show "typing…" from the bot that will post the reply; a failure only costs it."""
        bot = self._character_bots.get(identity.character_id) or self._shared
        try:
            await bot.send_chat_action(
                chat_id=int(channel.channel),
                action=ChatAction.TYPING,
                message_thread_id=_thread(channel),
            )
        except TelegramError as error:
            log.debug("telegram: typing indicator failed: %s", error)

    async def send_notice(
        self, *, channel: ChannelKey, text: str, command: CommandEvent | None = None
    ) -> None:
        """Post a command's answer as plain text through the shared bot, replying to it."""
        reply_to = command.event_id.rsplit(":", 1)[1] if command else None
        for piece in split_text(text, MAX_LENGTH):
            await self._send(self._shared, channel, piece, reply_to)
            reply_to = None

    async def _send(
        self,
        bot: telegram.Bot,
        channel: ChannelKey,
        text: str,
        reply_to: str | None,
        parse_mode: str | None = None,
    ) -> str:
        """Post one message (waiting out flood control); returns its id."""
        answering = (
            telegram.ReplyParameters(int(reply_to), allow_sending_without_reply=True)
            if reply_to
            else None
        )
        message = await self._retrying(
            lambda: bot.send_message(
                chat_id=int(channel.channel),
                text=text,
                parse_mode=parse_mode,
                message_thread_id=_thread(channel),
                reply_parameters=answering,
            )
        )
        return str(message.message_id)

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, repeated after each flood-control wait, at most ``max_retries`` times.

        A request refused with ``RetryAfter`` was not carried out, so repeating it can
        neither lose nor duplicate a message.
        """
        retries = 0
        while True:
            try:
                return await call()
            except RetryAfter as error:
                if retries == self._max_retries:
                    raise
                retries += 1
                seconds = _seconds(error)
                log.warning("telegram flood control: waiting %.1f s before retrying", seconds)
                await asyncio.sleep(seconds)


def _thread(channel: ChannelKey) -> int | None:
    return int(channel.thread) if channel.thread else None


def _seconds(error: RetryAfter) -> float:
    """How long flood control asks to wait (PTB gives a number now, a timedelta later)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
