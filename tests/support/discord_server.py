"""A small fake Discord on loopback: the gateway websocket and the REST routes botkit uses.

Real discord.py talks to it after ``discord.http.Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY`` point here. It speaks JSON over TEXT frames,
records what the bot posts, echoes webhook and bot messages back as MESSAGE_CREATE (as
Discord does), answers 429 with ``retry_after`` and a ``Via`` header on demand, and can
drop the connection so the client RESUMEs and receives missed dispatches again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

GUILD_ID = "900000000000000001"
CHANNEL_ID = "900000000000000002"
THREAD_ID = "900000000000000003"
BOT_ID = "900000000000000009"
APP_ID = BOT_ID
MANAGE_GUILD = 1 << 5
EPHEMERAL = 1 << 6
"""The message flag that shows a message to the interaction's user alone."""
EVERYTHING = (1 << 41) - 1


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
    identifies: int = 0
    resumes: int = 0
    refuse_token: bool = False
    """Answer 401 to the login, as Discord does for a wrong token."""
    replay_overlap: int = 0
    """On RESUME, also replay this many dispatches the client already had (a redelivery)."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(910000000000000000))
    _seq: int = 0
    _sent: list[dict[str, Any]] = field(default_factory=list)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _limits: dict[str, list[float]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def new_id(self) -> str:
        """A fresh snowflake."""
        return str(next(self._ids))

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

    async def dispatch(self, event: str, data: dict[str, Any], *, send: bool = True) -> int:
        """Record a dispatch with the next sequence number and, if ``send``, deliver it."""
        self._seq += 1
        payload = {"op": 0, "t": event, "s": self._seq, "d": data}
        self._sent.append(payload)
        if send:
            for socket in list(self._sockets):
                await socket.send_str(json.dumps(payload))
        return self._seq

    def message(
        self, author: dict[str, Any], content: str, *, channel_id: str = CHANNEL_ID, **extra: Any
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE payload."""
        return {
            "id": self.new_id(),
            "channel_id": channel_id,
            "guild_id": GUILD_ID,
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
        """A member writes in the channel."""
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
    ) -> str:
        """A member runs a slash command; returns the interaction id. ``resolved`` holds
        the users and members that user options name, as Discord sends them along."""
        registered = next(c for c in self.commands if c["name"] == name)
        if subcommand:
            options = [{"name": subcommand, "type": 1, "options": options}]
        interaction_id = self.new_id()
        data = {"id": registered["id"], "name": name, "type": 1, "options": options}
        if resolved:
            data["resolved"] = resolved
        await self.dispatch(
            "INTERACTION_CREATE",
            {
                "id": interaction_id,
                "application_id": APP_ID,
                "type": 2,
                "token": f"itoken-{interaction_id}",
                "version": 1,
                "guild_id": GUILD_ID,
                "channel_id": CHANNEL_ID,
                "channel": self._channel(CHANNEL_ID),
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
            "guild_id": GUILD_ID,
            "name": "tavern",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }

    def _guild(self) -> dict[str, Any]:
        me = {
            "user": user(BOT_ID, "botkit", bot=True),
            "roles": [],
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        thread = {
            "id": THREAD_ID,
            "type": 11,
            "guild_id": GUILD_ID,
            "name": "side-quest",
            "parent_id": CHANNEL_ID,
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
        return {
            "id": GUILD_ID,
            "name": "Gullhaven",
            "owner_id": "1",
            "member_count": 2,
            "roles": [
                {
                    "id": GUILD_ID,
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
            "channels": [self._channel(CHANNEL_ID)],
            "threads": [thread],
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
        return socket

    async def _on_gateway(self, socket: web.WebSocketResponse, payload: dict[str, Any]) -> None:
        op = payload["op"]
        if op == 1:
            await socket.send_str(json.dumps({"op": 11}))
        elif op == 2:
            self.identifies += 1
            await self.dispatch(
                "READY",
                {
                    "v": 10,
                    "user": user(BOT_ID, "botkit", bot=True),
                    "guilds": [{"id": GUILD_ID, "unavailable": True}],
                    "session_id": "session-1",
                    "resume_gateway_url": self.gateway_url,
                    "application": {"id": APP_ID, "flags": 0},
                    "shard": payload["d"].get("shard", [0, 1]),
                },
            )
            await self.dispatch("GUILD_CREATE", self._guild())
        elif op == 6:
            self.resumes += 1
            after = (payload["d"]["seq"] or 0) - self.replay_overlap
            for missed in [p for p in self._sent if p["s"] > after]:
                await socket.send_str(json.dumps(missed))
            await self.dispatch("RESUMED", {})

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
        if path.startswith("/gateway"):
            return self._json(
                {
                    "url": self.gateway_url,
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 0,
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
                "guild_id": GUILD_ID,
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
            content = (body.get("data") or {}).get("content", "")
            self.posted.append(Posted("interaction", CHANNEL_ID, content))
            reply = self.message(user(BOT_ID, "botkit", bot=True), content)
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
            return await self._execute(parts[1], body, request)
        if parts[0] == "webhooks" and method == "PATCH" and parts[1] in self.webhooks:
            edited = self.message(
                user(parts[1], "edited", bot=True),
                body.get("content", ""),
                webhook_id=parts[1],
                id=parts[-1],
            )
            self.posted.append(Posted("edit", CHANNEL_ID, edited["content"], message_id=parts[-1]))
            return self._json(edited)
        if parts[0] == "webhooks" and method == "PATCH":
            return self._json(
                self.message(user(BOT_ID, "botkit", bot=True), body.get("content", ""))
            )
        return self._json({"message": f"unknown route {method} {path}", "code": 0}, 404)

    async def _execute(
        self, webhook_id: str, body: dict[str, Any], request: web.Request
    ) -> web.StreamResponse:
        if webhook_id == APP_ID:
            ephemeral = bool(int(body.get("flags") or 0) & EPHEMERAL)
            self.posted.append(
                Posted("followup", CHANNEL_ID, body.get("content", ""), ephemeral=ephemeral)
            )
            return self._json(
                self.message(user(BOT_ID, "botkit", bot=True), body.get("content", ""))
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
