"""A small fake Discord on loopback: the gateway websocket and the REST routes botkit uses.

Real discord.py talks to it after ``discord.http.Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY`` point here. It speaks JSON over TEXT frames,
records what the bot posts, echoes webhook and bot messages back as MESSAGE_CREATE (as
Discord does), answers 429 with ``retry_after`` and a ``Via`` header on demand, and can
drop the connection so the client RESUMEs and receives missed dispatches again.

It shards as Discord does: each IDENTIFY opens a session for its ``shard: [id, count]``
(``[0, 1]`` without one), which hears only of the guilds on that shard
(``(guild_id >> 22) % count == id``) and receives only their dispatches; direct messages
go to shard 0. Several sessions, of one client or of several, run side by side.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

GUILD_ID = "900000000000000001"
"""The guild every fake starts with (on shard 1 of 2, shard 3 of 4)."""
CHANNEL_ID = "900000000000000002"
THREAD_ID = "900000000000000003"
BOT_ID = "900000000000000009"
APP_ID = BOT_ID
MANAGE_GUILD = 1 << 5
EPHEMERAL = 1 << 6
"""The message flag that shows a message to the interaction's user alone."""
EVERYTHING = (1 << 41) - 1
SESSION_STARTS = 1000
"""IDENTIFYs a bot may send a day; ``/gateway/bot`` reports what is left."""
DAY_MS = 24 * 60 * 60 * 1000
_GUILD_EVENTS = ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE")
"""Dispatches whose guild is the ``id`` of their data, not a ``guild_id``."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


def user(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    """A user object."""
    return {
        "id": user_id,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
    }


def shard_of(guild_id: str, shard_count: int) -> int:
    """The shard that receives a guild's events, as Discord assigns it."""
    return (int(guild_id) >> 22) % shard_count


@dataclass
class Guild:
    """A guild the bot is in: its text channels, and its threads by id with their parent."""

    id: str
    name: str
    channels: list[str]
    threads: dict[str, str] = field(default_factory=dict)


@dataclass
class Session:
    """One gateway session: its shard, its sequence, and every dispatch it was sent (which
    a RESUME replays); ``socket`` is None while its client is disconnected."""

    session_id: str
    shard_id: int
    shard_count: int
    socket: web.WebSocketResponse | None
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)

    def owns(self, guild_id: str | None) -> bool:
        """Whether this session receives the events of ``guild_id`` (None: a direct message,
        which goes to shard 0)."""
        if guild_id is None:
            return self.shard_id == 0
        return shard_of(guild_id, self.shard_count) == self.shard_id


@dataclass
class Posted:
    """Something the bot posted: through a webhook, as itself, or as an interaction answer."""

    kind: str
    channel_id: str
    content: str
    username: str | None = None
    avatar_url: str | None = None
    thread_id: str | None = None
    message_id: str = ""
    ephemeral: bool = False


@dataclass
class FakeDiscord:
    """The fake server and its recorded state."""

    posted: list[Posted] = field(default_factory=list)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    """The slash commands registered last (in whichever guild)."""
    guild_commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """The slash commands registered in each guild, by guild id."""
    guilds: dict[str, Guild] = field(
        default_factory=lambda: {
            GUILD_ID: Guild(GUILD_ID, "Gullhaven", [CHANNEL_ID], {THREAD_ID: CHANNEL_ID})
        }
    )
    sessions: list[Session] = field(default_factory=list)
    """Every session identified so far, in order (disconnected ones included)."""
    identifies: int = 0
    resumes: int = 0
    recommended_shards: int = 1
    """The shard count ``/gateway/bot`` recommends."""
    refuse_token: bool = False
    """Answer 401 to the login, as Discord does for a wrong token."""
    replay_overlap: int = 0
    """On RESUME, also replay this many dispatches the client already had (a redelivery)."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(910000000000000000))
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _interactions: dict[str, str] = field(default_factory=dict)
    """The channel of each interaction, by its token."""
    _limits: dict[str, list[float]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    port: int = 0

    def new_id(self) -> str:
        """A fresh snowflake."""
        return str(next(self._ids))

    def add_guild(self, guild_id: str, channel_id: str, name: str = "Elsewhere") -> Guild:
        """Put the bot in one more guild, with one text channel (before the bot connects)."""
        guild = Guild(guild_id, name, [channel_id])
        self.guilds[guild_id] = guild
        return guild

    def guild_of(self, channel_id: str) -> str:
        """The id of the guild a channel or thread belongs to."""
        for guild in self.guilds.values():
            if channel_id in guild.channels or channel_id in guild.threads:
                return guild.id
        raise KeyError(f"no guild has channel {channel_id}")

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        """Stop serving."""
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def rest_url(self) -> str:
        """What ``Route.BASE`` must be."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` must be."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def rate_limit(self, route: str, times: int, retry_after: float = 0.05) -> None:
        """Answer the next ``times`` requests whose path contains ``route`` with a 429."""
        self._limits[route] = [retry_after] * times

    async def drop_connection(self) -> None:
        """Close the gateway connection as if the network failed (the client RESUMEs)."""
        for socket in list(self._sockets):
            await socket.close(code=4000)

    async def dispatch(
        self, event: str, data: dict[str, Any], *, send: bool = True
    ) -> list[Session]:
        """Record a dispatch in each session of the shard that owns its guild (or shard 0
        for a direct message) and, if ``send``, deliver it to those that are connected;
        returns those sessions."""
        guild_id = data.get("guild_id", data.get("id") if event in _GUILD_EVENTS else None)
        owners = [s for s in self.sessions if s.owns(None if guild_id is None else str(guild_id))]
        for session in owners:
            await self._send(session, event, data, send=send)
        return owners

    async def _send(
        self, session: Session, event: str, data: dict[str, Any], *, send: bool = True
    ) -> None:
        """Record a dispatch with the session's next sequence number; deliver it if ``send``
        and the session is connected."""
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.sent.append(payload)
        if send and session.socket is not None and not session.socket.closed:
            await session.socket.send_str(json.dumps(payload))

    def message(
        self, author: dict[str, Any], content: str, *, channel_id: str = CHANNEL_ID, **extra: Any
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE payload in ``channel_id`` (a channel or thread of some guild)."""
        return {
            "id": self.new_id(),
            "channel_id": channel_id,
            "guild_id": self.guild_of(channel_id),
            "author": author,
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "member": {"roles": [], "joined_at": _now(), "deaf": False, "mute": False, "flags": 0},
            **extra,
        }

    async def say(
        self, author: dict[str, Any], content: str, *, send: bool = True, **extra: Any
    ) -> dict[str, Any]:
        """A member writes in the channel (``channel_id``, by default the first guild's)."""
        data = self.message(author, content, **extra)
        await self.dispatch("MESSAGE_CREATE", data, send=send)
        return data

    async def command(
        self,
        author: dict[str, Any],
        name: str,
        options: list[dict[str, Any]],
        *,
        permissions: int,
        subcommand: str | None = None,
        resolved: dict[str, Any] | None = None,
        channel_id: str = CHANNEL_ID,
    ) -> str:
        """A member runs a slash command in ``channel_id``; returns the interaction id.
        ``resolved`` holds the users and members that user options name, as Discord sends
        them along."""
        guild_id = self.guild_of(channel_id)
        registered = next(
            c for c in self.guild_commands.get(guild_id, self.commands) if c["name"] == name
        )
        if subcommand:
            options = [{"name": subcommand, "type": 1, "options": options}]
        interaction_id = self.new_id()
        token = f"itoken-{interaction_id}"
        self._interactions[token] = channel_id
        data = {"id": registered["id"], "name": name, "type": 1, "options": options}
        if resolved:
            data["resolved"] = resolved
        await self.dispatch(
            "INTERACTION_CREATE",
            {
                "id": interaction_id,
                "application_id": APP_ID,
                "type": 2,
                "token": token,
                "version": 1,
                "guild_id": guild_id,
                "channel_id": channel_id,
                "channel": self._channel(channel_id),
                "member": {
                    "user": author,
                    "roles": [],
                    "joined_at": _now(),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "permissions": str(permissions),
                },
                "data": data,
                "app_permissions": str(EVERYTHING),
                "locale": "en-US",
                "guild_locale": "en-US",
                "entitlements": [],
                "authorizing_integration_owners": {},
                "attachment_size_limit": 8 << 20,
            },
        )
        return interaction_id

    def _channel(self, channel_id: str) -> dict[str, Any]:
        return {
            "id": channel_id,
            "type": 0,
            "guild_id": self.guild_of(channel_id),
            "name": "tavern",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }

    def _guild(self, guild: Guild) -> dict[str, Any]:
        me = {
            "user": user(BOT_ID, "botkit", bot=True),
            "roles": [],
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        threads = [
            {
                "id": thread_id,
                "type": 11,
                "guild_id": guild.id,
                "name": "side-quest",
                "parent_id": parent_id,
                "owner_id": "1",
                "message_count": 0,
                "member_count": 1,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": _now(),
                    "locked": False,
                },
            }
            for thread_id, parent_id in guild.threads.items()
        ]
        return {
            "id": guild.id,
            "name": guild.name,
            "owner_id": "1",
            "member_count": 2,
            "roles": [
                {
                    "id": guild.id,
                    "name": "@everyone",
                    "permissions": str(EVERYTHING),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "channels": [self._channel(channel_id) for channel_id in guild.channels],
            "threads": threads,
            "members": [me],
            "emojis": [],
            "stickers": [],
            "features": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "large": False,
            "unavailable": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "system_channel_flags": 0,
        }

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for frame in socket:
                if frame.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                await self._on_gateway(socket, payload)
        finally:
            self._sockets.remove(socket)
            for session in self.sessions:
                if session.socket is socket:
                    session.socket = None
        return socket

    async def _on_gateway(self, socket: web.WebSocketResponse, payload: dict[str, Any]) -> None:
        op = payload["op"]
        if op == 1:
            await socket.send_str(json.dumps({"op": 11}))
        elif op == 2:
            await self._identify(socket, payload["d"])
        elif op == 6:
            session = next(
                (s for s in self.sessions if s.session_id == payload["d"]["session_id"]), None
            )
            if session is None:
                await socket.send_str(json.dumps({"op": 9, "d": False}))
                return
            self.resumes += 1
            session.socket = socket
            after = (payload["d"]["seq"] or 0) - self.replay_overlap
            for missed in [p for p in session.sent if p["s"] > after]:
                await socket.send_str(json.dumps(missed))
            await self._send(session, "RESUMED", {})

    async def _identify(self, socket: web.WebSocketResponse, identify: dict[str, Any]) -> None:
        """Open a session for the shard ``identify`` names: READY listing that shard's
        guilds, then a GUILD_CREATE for each; an impossible shard closes with 4010."""
        self.identifies += 1
        shard_id, shard_count = identify.get("shard", [0, 1])
        if not 0 <= shard_id < shard_count:
            await socket.close(code=4010, message=b"Invalid shard.")
            return
        session = Session(f"session-{len(self.sessions) + 1}", shard_id, shard_count, socket)
        self.sessions.append(session)
        guilds = [g for g in self.guilds.values() if session.owns(g.id)]
        ready: dict[str, Any] = {
            "v": 10,
            "user": user(BOT_ID, "botkit", bot=True),
            "guilds": [{"id": g.id, "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": APP_ID, "flags": 0},
        }
        if "shard" in identify:
            ready["shard"] = [shard_id, shard_count]
        await self._send(session, "READY", ready)
        for guild in guilds:
            await self._send(session, "GUILD_CREATE", self._guild(guild))

    def _json(self, data: Any, status: int = 200, **headers: str) -> web.Response:
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            headers={"Content-Type": "application/json", **headers},
        )

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        for route, waits in self._limits.items():
            if route in path and waits:
                return self._json(
                    {
                        "message": "You are being rate limited.",
                        "retry_after": waits.pop(0),
                        "global": False,
                    },
                    429,
                    Via="1.1 google",
                    **{"Retry-After": "1"},
                )
        body: dict[str, Any] = {}
        if request.can_read_body:
            if request.content_type == "multipart/form-data":
                form = await request.post()
                body = json.loads(str(form["payload_json"]))
            else:
                body = await request.json()
        return await self._route(request.method, path, body, request)

    async def _route(
        self, method: str, path: str, body: dict[str, Any], request: web.Request
    ) -> web.StreamResponse:
        parts = path.strip("/").split("/")
        if path == "/users/@me" and self.refuse_token:
            return self._json({"message": "401: Unauthorized", "code": 0}, 401)
        if path == "/users/@me":
            return self._json(user(BOT_ID, "botkit", bot=True))
        if path == "/oauth2/applications/@me":
            return self._json(
                {
                    "id": APP_ID,
                    "name": "botkit",
                    "description": "",
                    "icon": None,
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "owner": user("1", "owner"),
                    "verify_key": "k",
                    "flags": 0,
                }
            )
        if path == "/gateway":
            return self._json({"url": self.gateway_url})
        if path == "/gateway/bot":
            return self._json(
                {
                    "url": self.gateway_url,
                    "shards": self.recommended_shards,
                    "session_start_limit": {
                        "total": SESSION_STARTS,
                        "remaining": max(0, SESSION_STARTS - self.identifies),
                        "reset_after": DAY_MS if self.identifies else 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if parts[0] == "applications" and method == "PUT":
            self.commands = [
                {
                    **c,
                    "id": self.new_id(),
                    "application_id": APP_ID,
                    "version": "1",
                    "default_member_permissions": c.get("default_member_permissions"),
                }
                for c in body
            ]
            if parts[2:3] == ["guilds"]:
                self.guild_commands[parts[3]] = self.commands
            return self._json(self.commands)
        if parts[0] == "channels" and parts[2:] == ["webhooks"]:
            if method == "GET":
                return self._json(
                    [w for w in self.webhooks.values() if w["channel_id"] == parts[1]]
                )
            webhook = {
                "id": self.new_id(),
                "token": "wtoken",
                "type": 1,
                "name": body["name"],
                "channel_id": parts[1],
                "guild_id": self.guild_of(parts[1]),
                "application_id": APP_ID,
                "avatar": None,
                "user": user(BOT_ID, "botkit", bot=True),
            }
            self.webhooks[webhook["id"]] = webhook
            return self._json(webhook)
        if parts[0] == "channels" and parts[2:] == ["typing"]:
            return web.Response(status=204)
        if parts[0] == "channels" and parts[2:] == ["messages"]:
            data = self.message(
                user(BOT_ID, "botkit", bot=True), body.get("content", ""), channel_id=parts[1]
            )
            self.posted.append(Posted("bot", parts[1], data["content"], message_id=data["id"]))
            await self.dispatch("MESSAGE_CREATE", data)
            return self._json(data)
        if parts[0] == "interactions":
            channel_id = self._interactions.get(parts[2])
            if channel_id is None:
                return self._json({"message": "Unknown interaction", "code": 10062}, 404)
            content = (body.get("data") or {}).get("content", "")
            self.posted.append(Posted("interaction", channel_id, content))
            reply = self.message(user(BOT_ID, "botkit", bot=True), content, channel_id=channel_id)
            return self._json(
                {
                    "interaction": {
                        "id": parts[1],
                        "type": 2,
                        "response_message_id": reply["id"],
                        "response_message_loading": False,
                        "response_message_ephemeral": True,
                    },
                    "resource": {"type": body.get("type", 4), "message": reply},
                }
            )
        if parts[0] == "webhooks" and method == "POST":
            return await self._execute(parts[1], parts[2], body, request)
        if parts[0] == "webhooks" and method == "PATCH" and parts[1] in self.webhooks:
            channel_id = self.webhooks[parts[1]]["channel_id"]
            edited = self.message(
                user(parts[1], "edited", bot=True),
                body.get("content", ""),
                channel_id=request.query.get("thread_id") or channel_id,
                webhook_id=parts[1],
                id=parts[-1],
            )
            self.posted.append(Posted("edit", channel_id, edited["content"], message_id=parts[-1]))
            return self._json(edited)
        if parts[0] == "webhooks" and method == "PATCH":
            channel_id = self._interactions.get(parts[2])
            if channel_id is None:
                return self._json({"message": "Unknown Webhook", "code": 10015}, 404)
            return self._json(
                self.message(
                    user(BOT_ID, "botkit", bot=True), body.get("content", ""), channel_id=channel_id
                )
            )
        return self._json({"message": f"unknown route {method} {path}", "code": 0}, 404)

    async def _execute(
        self, webhook_id: str, token: str, body: dict[str, Any], request: web.Request
    ) -> web.StreamResponse:
        if webhook_id == APP_ID:
            channel_id = self._interactions.get(token)
            if channel_id is None:
                return self._json({"message": "Unknown Webhook", "code": 10015}, 404)
            ephemeral = bool(int(body.get("flags") or 0) & EPHEMERAL)
            self.posted.append(
                Posted("followup", channel_id, body.get("content", ""), ephemeral=ephemeral)
            )
            return self._json(
                self.message(
                    user(BOT_ID, "botkit", bot=True), body.get("content", ""), channel_id=channel_id
                )
            )
        webhook = self.webhooks.get(webhook_id)
        if webhook is None:
            return self._json({"message": "Unknown Webhook", "code": 10015}, 404)
        thread_id = request.query.get("thread_id")
        channel_id = thread_id or webhook["channel_id"]
        author = user(webhook_id, body.get("username") or webhook["name"], bot=True)
        data = self.message(
            author,
            body.get("content", ""),
            channel_id=channel_id,
            webhook_id=webhook_id,
            application_id=APP_ID,
        )
        self.posted.append(
            Posted(
                "webhook",
                webhook["channel_id"],
                data["content"],
                body.get("username"),
                body.get("avatar_url"),
                thread_id,
                data["id"],
            )
        )
        await self.dispatch("MESSAGE_CREATE", data)
        if request.query.get("wait") in ("1", "true", "True"):
            return self._json(data)
        return web.Response(status=204)
