"""A small fake Slack on loopback: the Web API the app calls, and signed requests to the app.

The app's ``AsyncWebClient`` reaches the Web API through ``base_url``; the fake sends the
app Events API callbacks and slash commands signed with the v0 HMAC scheme, as Slack does
(retries carry ``X-Slack-Retry-Num``). Every ``chat.postMessage`` is recorded and echoed
back to the app as a bot message, so tests prove echoes are ignored. ``fail_next``
answers HTTP 429 with an integer ``Retry-After``.

In Socket Mode several connections may be open at once (one app, several processes):
as Slack does, each envelope goes to one of them (here in turn), and the envelopes a
connection had not acknowledged when it closed are sent again, with ``retry_attempt``
counted up, on another.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

TEAM_ID = "T0GULL"
CHANNEL_ID = "C0TAVERN"
BOT_ID = "B0BOTKIT"
BOT_USER_ID = "U0BOTKIT"
SIGNING_SECRET = "fake-signing-secret"


@dataclass
class Posted:
    """A message the app posted with ``chat.postMessage``."""

    channel: str
    text: str
    username: str | None
    icon_url: str | None
    thread_ts: str | None
    ts: str
    metadata: dict[str, Any] | None = None


@dataclass
class FakeSlack:
    """The fake Web API, the signed-request client, and what was recorded."""

    app_url: str = ""
    posted: list[Posted] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    admins: set[str] = field(default_factory=set)
    group_members: set[str] = field(default_factory=set)
    port: int = 0
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _events: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _failures: dict[str, list[int]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _unacked: dict[str, tuple[web.WebSocketResponse, dict[str, Any]]] = field(default_factory=dict)
    _waiting: list[dict[str, Any]] = field(default_factory=list)
    """Envelopes sent again while no connection was open."""

    @property
    def socket(self) -> web.WebSocketResponse | None:
        """The first open Socket Mode connection, if any."""
        return self.sockets[0] if self.sockets else None

    async def start(self) -> None:
        """Serve the Web API on a free loopback port."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link", self._link)
        app.router.add_post("/respond/{command}", self._respond)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        """Stop serving."""
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """The Web API base URL (for ``AsyncWebClient(base_url=...)``)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def fail_next(self, method: str, times: int, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429."""
        self._failures[method] = [retry_after] * times

    def new_ts(self) -> str:
        """A fresh message timestamp."""
        return f"1700000000.{next(self._ts):06d}"

    async def send_event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> tuple[int, str]:
        """Deliver an Events API callback; returns the app's status and the event id."""
        event_id = event_id or f"Ev{next(self._events):08d}"
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": TEAM_ID,
                "api_app_id": "A0BOTKIT",
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "event": event,
                "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
            }
        )
        if self.socket is not None:
            await self._envelope("events_api", json.loads(body), retry_num or 0)
            return 200, event_id
        headers = {"Content-Type": "application/json"}
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self._signed(body, headers), event_id

    async def say(self, user: str, text: str, **extra: Any) -> tuple[dict[str, Any], str]:
        """A member writes ``text`` in the channel; returns the event and its id."""
        event = {
            "type": "message",
            "channel": CHANNEL_ID,
            "user": user,
            "text": text,
            "ts": self.new_ts(),
            "channel_type": "channel",
            **extra,
        }
        status, event_id = await self.send_event(event)
        assert status == 200, status
        return event, event_id

    async def command(self, user: str, text: str) -> int:
        """A member runs ``/botkit text``; returns the app's status."""
        trigger = f"trigger-{next(self._events)}"
        fields = {
            "command": "/botkit",
            "text": text,
            "user_id": user,
            "user_name": user,
            "channel_id": CHANNEL_ID,
            "team_id": TEAM_ID,
            "trigger_id": trigger,
            "response_url": f"http://127.0.0.1:{self.port}/respond/{trigger}",
        }
        if self.socket is not None:
            await self._envelope("slash_commands", fields, 0)
            return 200
        body = urlencode(fields)
        return await self._signed(body, {"Content-Type": "application/x-www-form-urlencoded"})

    async def _envelope(self, kind: str, payload: dict[str, Any], retry: int) -> None:
        await self._deliver(
            {
                "envelope_id": str(uuid.uuid4()),
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind == "slash_commands",
                "retry_attempt": retry,
                "retry_reason": "timeout" if retry else "",
            }
        )

    async def _deliver(self, envelope: dict[str, Any]) -> None:
        """Send ``envelope`` on the next open connection, keeping it until acknowledged."""
        while self.sockets:
            socket = self.sockets[next(self._turn) % len(self.sockets)]
            self._unacked[envelope["envelope_id"]] = (socket, envelope)
            try:
                await socket.send_str(json.dumps(envelope))
            except (ConnectionError, RuntimeError):
                await self._closed(socket)
                continue
            return
        self._waiting.append(envelope)

    async def _closed(self, socket: web.WebSocketResponse) -> None:
        """A connection went away: send what it left unacknowledged on another."""
        if socket in self.sockets:
            self.sockets.remove(socket)
        if not self.sockets:
            self.connected.clear()
        left = [e for s, e in self._unacked.values() if s is socket]
        for envelope in left:
            del self._unacked[envelope["envelope_id"]]
            await self._deliver(
                envelope
                | {"retry_attempt": envelope["retry_attempt"] + 1, "retry_reason": "timeout"}
            )

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        """The Socket Mode connection: hello, then envelopes; the app acknowledges each."""
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self.sockets),
                    "connection_info": {"app_id": "A0BOTKIT"},
                    "debug_info": {"host": "fake"},
                }
            )
        )
        self.connected.set()
        waiting, self._waiting = self._waiting, []
        for envelope in waiting:
            await self._deliver(envelope)
        try:
            async for frame in socket:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    envelope_id = json.loads(frame.data).get("envelope_id", "")
                    self.acks.append(envelope_id)
                    self._unacked.pop(envelope_id, None)
        finally:
            await self._closed(socket)
        return socket

    async def _signed(self, body: str, headers: dict[str, str]) -> int:
        assert self._session is not None
        stamp = str(int(time.time()))
        digest = hmac.new(
            SIGNING_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256
        ).hexdigest()
        headers = {
            **headers,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest}",
        }
        async with self._session.post(self.app_url, data=body.encode(), headers=headers) as reply:
            return reply.status

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        waits = self._failures.get(method)
        if waits:
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(waits.pop(0))},
            )
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params |= await request.json()
        elif request.can_read_body:
            params |= dict(await request.post())
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": "https://gull.invalid/",
                    "team": "Gull",
                    "user": "botkit",
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID,
                }
            )
        if method == "apps.connections.open":
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"})
        if method == "users.info":
            user = str(params["user"])
            admin = user in self.admins
            return web.json_response(
                {
                    "ok": True,
                    "user": {
                        "id": user,
                        "name": user.lower(),
                        "real_name": user.title(),
                        "is_admin": admin,
                        "is_owner": False,
                        "profile": {"display_name": user.removeprefix("U0").title()},
                    },
                }
            )
        if method == "usergroups.users.list":
            return web.json_response({"ok": True, "users": sorted(self.group_members)})
        if method == "chat.postMessage":
            return web.json_response(await self._post(params))
        if method in ("conversations.history", "conversations.replies"):
            return web.json_response(self._history(params, thread=method.endswith("replies")))
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    def _history(self, params: dict[str, Any], *, thread: bool) -> dict[str, Any]:
        """The app's posts in a channel (or one thread) after ``oldest``, newest first;
        their metadata only with ``include_all_metadata``."""
        oldest = float(params.get("oldest", 0))
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        messages = [
            {"type": "message", "subtype": "bot_message", "bot_id": BOT_ID, "text": p.text}
            | {"ts": p.ts, "username": p.username}
            | ({"metadata": p.metadata} if with_metadata and p.metadata else {})
            for p in reversed(self.posted)
            if p.channel == params["channel"]
            and float(p.ts) > oldest
            and (not thread or p.thread_ts == params.get("ts"))
        ]
        start = int(params.get("cursor") or 0)
        end = start + int(params.get("limit", 100))
        more = {"next_cursor": str(end)} if end < len(messages) else {}
        return {
            "ok": True,
            "messages": messages[start:end],
            "has_more": bool(more),
            "response_metadata": more,
        }

    async def _post(self, params: dict[str, Any]) -> dict[str, Any]:
        ts = self.new_ts()
        metadata = params.get("metadata")
        posted = Posted(
            str(params["channel"]),
            str(params["text"]),
            params.get("username"),
            params.get("icon_url"),
            params.get("thread_ts"),
            ts,
            json.loads(metadata) if isinstance(metadata, str) else metadata,
        )
        self.posted.append(posted)
        message = {
            "type": "message",
            "subtype": "bot_message",
            "channel": posted.channel,
            "text": posted.text,
            "ts": ts,
            "bot_id": BOT_ID,
            "username": posted.username,
        }
        if posted.thread_ts:
            message["thread_ts"] = posted.thread_ts
        await self.send_event(message)
        return {"ok": True, "channel": posted.channel, "ts": ts, "message": message}
