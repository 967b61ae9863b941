"""The Slack adapter: signed Events API and ``/botkit`` in, ``chat.postMessage`` out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

from aiohttp import web
from botkit.adapters.slack.translate import channel_key, is_member_message, message_event
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from botkit.adapter import AdapterContext, Capabilities, EventSink, PostedReply
from botkit.events import Author, ChannelKey, CommandEvent, Identity, Permission
from botkit.messages import split_text
from botkit.options import Option
from botkit.plugin import Command

__all__ = ["SlackAdapter"]

log = logging.getLogger(__name__)

MAX_LENGTH = 3000
REPLY_EVENT = "botkit_reply"
"""The metadata event type of a character's reply (its payload: the character and the
message answered, or "" on the pieces after the first of a long reply)."""
LOOKUP_PAGES = 5
"""Pages of 200 messages :meth:`SlackAdapter.find_reply` reads at most."""


def _reply_payload(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The payload of a message's botkit reply metadata, if it has any."""
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != REPLY_EVENT:
        return None
    payload = metadata.get("event_payload")
    return payload if isinstance(payload, dict) else None


Respond = Callable[..., Awaitable[Any]]


class SlackAdapter:
    """Runs botkit on Slack: the Events API and a ``/botkit`` slash command, received over
    Socket Mode when an ``app_token`` is given, otherwise on an HTTP endpoint.

    Characters post with ``chat.postMessage`` under their own name and icon (the app needs
    ``chat:write.customize``), in the thread the message came from. Retried deliveries of
    an event keep its id, so botkit answers once. Workspace admins and owners, and members
    of ``admin_user_group``, may change the cast. Rate limits (HTTP 429 with Retry-After)
    are waited out by the Web API client before the same message is sent again.
    """

    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "bot_token": Option("text", required=True),
        "signing_secret": Option("text", required=True),
        "app_token": Option("text"),
        "host": Option("text"),
        "port": Option("whole", 0, 65535),
        "path": Option("text"),
        "base_url": Option("url"),
        "admin_user_group": Option("text"),
    }
    """What ``adapters.slack`` takes; checked with the rest of the config."""
    name = "slack"
    capabilities = Capabilities(personas=True, streaming=False, max_text_len=MAX_LENGTH)

    def __init__(
        self,
        *,
        bot_token: str,
        signing_secret: str,
        host: str = "127.0.0.1",
        port: int = 3000,
        path: str = "/slack/events",
        base_url: str | None = None,
        admin_user_group: str | None = None,
        app_token: str | None = None,
        max_retries: int = 5,
    ) -> None:
        client = AsyncWebClient(
            token=bot_token,
            base_url=base_url or AsyncWebClient.BASE_URL,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries)],
        )
        self._client = client
        # Acknowledge an event only once it is stored: Slack sends an unacknowledged one
        # again (on another connection), so a process that dies meanwhile loses nothing.
        self._app = AsyncApp(
            client=client, signing_secret=signing_secret, process_before_response=True
        )
        self._app.event("message")(self._on_message)
        self._app.command("/botkit")(self._on_command)
        self._host, self._port, self._path = host, port, path
        self._admin_group = admin_user_group
        self._app_token = app_token
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._sink: EventSink | None = None
        self._responders: dict[str, Respond] = {}
        self._names: dict[str, str] = {}
        self._closed = asyncio.Event()

    def __repr__(self) -> str:
        mode = "socket mode" if self._app_token else f"listening={self.url}"
        return f"SlackAdapter({mode})"

    @classmethod
    def from_config(cls, options: Mapping[str, Any], context: AdapterContext) -> SlackAdapter:
        """Build from the ``adapters.slack`` config section."""
        for required in ("bot_token", "signing_secret"):
            if not options.get(required):
                raise ValueError(
                    f"{required} is required (e.g. {required}: ${{SLACK_{required.upper()}}})"
                )
        return cls(
            bot_token=str(options["bot_token"]),
            signing_secret=str(options["signing_secret"]),
            host=str(options.get("host", "127.0.0.1")),
            port=int(options.get("port", 3000)),
            path=str(options.get("path", "/slack/events")),
            base_url=options.get("base_url"),
            admin_user_group=options.get("admin_user_group"),
            app_token=options.get("app_token"),
        )

    @property
    def url(self) -> str:
        """Where Slack must send events and commands (behind your public HTTPS proxy)."""
        return f"http://{self._host}:{self._port}{self._path}"

    async def start(self, sink: EventSink, commands: Sequence[Command] = ()) -> None:
        """Connect Socket Mode, or start the HTTP endpoint, to receive events and commands.

        Every command is a sub-command of ``/botkit`` (``/botkit character add mira``), so
        Slack needs no menu; ``/botkit`` alone asks for ``/help``, which lists ``commands``.
        """
        self._sink = sink
        if self._app_token:
            self._socket = AsyncSocketModeHandler(self._app, self._app_token)
            await self._socket.connect_async()
            return
        self._runner = web.AppRunner(self._app.web_app(path=self._path, port=self._port))
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        if self._port == 0:
            self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def wait_closed(self) -> None:
        """Return once stopped."""
        await self._closed.wait()

    async def stop(self) -> None:
        """Stop receiving events."""
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._closed.set()

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if self._sink is None or not is_member_message(event):
            return
        author = await self._name_of(str(event["user"]))
        await self._sink(
            message_event(
                event,
                event_id=str(body["event_id"]),
                team_id=str(body["team_id"]),
                author_name=author,
            )
        )

    async def _on_command(
        self, ack: Callable[[], Awaitable[None]], command: dict[str, Any], respond: Respond
    ) -> None:
        await ack()
        if self._sink is None:
            return
        words = str(command.get("text", "")).split()
        name, args = (words[0].lower(), tuple(words[1:])) if words else ("help", ())
        user = str(command["user_id"])
        event = CommandEvent(
            event_id=f"slack:{command['trigger_id']}",
            channel=channel_key(str(command["team_id"]), str(command["channel_id"])),
            author=Author(user, await self._name_of(user)),
            name=name,
            args=args,
            permissions=await self._permissions(user),
        )
        self._responders[event.event_id] = respond
        await self._sink(event)

    async def _name_of(self, user: str) -> str:
        name = self._names.get(user)
        if name is None:
            info = await self._client.users_info(user=user)
            profile = info["user"].get("profile", {})
            name = profile.get("display_name") or info["user"].get("real_name") or user
            self._names[user] = name
        return name

    async def _permissions(self, user: str) -> Permission:
        info = await self._client.users_info(user=user)
        if info["user"].get("is_admin") or info["user"].get("is_owner"):
            return Permission.MANAGE
        if self._admin_group:
            members = await self._client.usergroups_users_list(usergroup=self._admin_group)
            if user in members.get("users", []):
                return Permission.MANAGE
        return Permission.NONE

    async def post_reply(
        self, *, channel: ChannelKey, identity: Identity, text: str, reply_to: str | None = None
    ) -> str | None:
        """Post the reply under the character's name and icon, in the thread if any, with
        metadata naming the character and the message answered (for :meth:`find_reply`)."""
        extra: dict[str, Any] = {"icon_url": identity.avatar} if identity.avatar else {}
        if channel.thread:
            extra["thread_ts"] = channel.thread
        metadata = {
            "event_type": REPLY_EVENT,
            "event_payload": {"reply_to": reply_to or "", "character": identity.character_id},
        }
        answer = await self._client.chat_postMessage(
            channel=channel.channel,
            text=text,
            username=identity.name,
            metadata=metadata,
            **extra,
        )
        return str(answer["ts"])

    async def find_reply(
        self, *, channel: ChannelKey, reply_to: str, character_id: str
    ) -> PostedReply | None:
        """The reply ``character_id`` posted to ``reply_to``, found by its metadata among
        the messages after ``reply_to``: its first piece names both, the pieces right
        after it (a long reply is posted in several) name the character alone. Returns
        the pieces' text, a line each, and the last one's id."""
        later = sorted(await self._messages_after(channel, reply_to), key=lambda m: float(m["ts"]))
        pieces: list[dict[str, Any]] = []
        for message in later:
            payload = _reply_payload(message)
            if not pieces:
                if payload == {"reply_to": reply_to, "character": character_id}:
                    pieces.append(message)
            elif payload == {"reply_to": "", "character": character_id}:
                pieces.append(message)
            else:
                break
        if not pieces:
            return None
        return PostedReply(str(pieces[-1]["ts"]), "\n".join(str(m["text"]) for m in pieces))

    async def _messages_after(self, channel: ChannelKey, oldest: str) -> list[dict[str, Any]]:
        """The channel's (or thread's) messages after ``oldest``, with their metadata; at
        most :data:`LOOKUP_PAGES` pages of them."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            common: dict[str, Any] = {
                "channel": channel.channel,
                "oldest": oldest,
                "include_all_metadata": True,
                "limit": 200,
                **({"cursor": cursor} if cursor else {}),
            }
            if channel.thread:
                answer = await self._client.conversations_replies(ts=channel.thread, **common)
            else:
                answer = await self._client.conversations_history(**common)
            messages += answer.get("messages", [])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return messages

    async def send_notice(
        self, *, channel: ChannelKey, text: str, command: CommandEvent | None = None
    ) -> None:
        """Answer a command in the channel through its response URL, or post a plain message."""
        respond = self._responders.pop(command.event_id, None) if command else None
        for piece in split_text(text, MAX_LENGTH):
            if respond is not None:
                await respond(text=piece, response_type="in_channel")
            else:
                await self._client.chat_postMessage(channel=channel.channel, text=piece)
