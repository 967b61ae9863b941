"""The web playground adapter: a page on 127.0.0.1 with rooms, streamed replies, the cast,
and why each character spoke."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import shlex
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web
from botkit.adapters.web.editor import editor_routes
from botkit.adapters.web.evals import eval_routes
from botkit.adapters.web.page import render_page
from botkit.adapters.web.security import Guard, is_loopback
from botkit.adapters.web.uploads import TooLarge, last_part, read_bounded, upload_field
from botkit.adapters.web.views import character_view, memory_view, trace_view, turn_view

from botkit.adapter import MAX_MESSAGE_CHARS, AdapterContext, Capabilities, EventSink
from botkit.events import Author, ChannelKey, CommandEvent, Identity, MessageEvent, Permission
from botkit.options import Option
from botkit.playground import PlaygroundHost
from botkit.plugin import Command

__all__ = ["WebAdapter"]

log = logging.getLogger(__name__)

SERVER = "local"
ROOM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
HISTORY = 60
"""Turns a page shows when it opens a room."""
KEEPALIVE_S = 15.0
MAX_BODY = 64 * 1024
MEMORIES_SHOWN = 30
MAX_QUERY = 500
MAX_CARD = 16 << 20
"""The largest Character Card file the page may upload (PNG, JSON or CHARX)."""
STATIC = {
    "app.js": "application/javascript",
    "editor.js": "application/javascript",
    "app.css": "text/css",
}


class WebAdapter:
    """Serves the playground: each room is a channel; replies stream to every open page.

    The person at the page is the operator (like the console's user): every command
    works, from the text box or the cast panel. Bound to loopback by default; binding to
    any other address needs ``token``, which the browser presents once as ``?token=``.
    """

    OPTIONS: ClassVar[Mapping[str, Option]] = {
        "host": Option("text"),
        "port": Option("whole", 0),
        "token": Option("text"),
        "user_name": Option("text"),
        "rooms": Option("list"),
    }
    """What ``adapters.web`` takes; checked with the rest of the config."""
    name = "web"
    capabilities = Capabilities(
        personas=True, streaming=True, max_text_len=MAX_MESSAGE_CHARS, traces=True
    )

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        token: str | None = None,
        user_name: str = "You",
        rooms: Sequence[str] = ("tavern",),
        playground: PlaygroundHost | None = None,
        data_dir: Path | None = None,
    ) -> None:
        """Raises ValueError (one line naming the option) for a non-loopback ``host``
        without ``token``, or a room name that is not lower-case letters, digits and -."""
        if not is_loopback(host) and not token:
            raise ValueError(
                f"host {host} is reachable from other machines: set token"
                " (e.g. token: ${BOTKIT_WEB_TOKEN}) or bind to 127.0.0.1"
            )
        bad = [room for room in rooms if not ROOM_NAME.fullmatch(room)]
        if bad or not rooms:
            raise ValueError(f"rooms: {bad or 'none'}: use lower-case letters, digits and -")
        self._host, self._port = host, port
        self._guard = Guard(token)
        self._user = Author("web-user", user_name)
        self._rooms = tuple(dict.fromkeys(rooms))
        self._playground = playground
        self._data_dir = data_dir
        """Where the evals page finds its files (its ``evals`` folder); None: no evals."""
        self._sink: EventSink | None = None
        self._runner: web.AppRunner | None = None
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._ids = itertools.count(1)
        self._run = uuid.uuid4().hex[:6]
        self._closed = asyncio.Event()

    def __repr__(self) -> str:
        return f"WebAdapter(http://{self._host}:{self._port}/)"

    @classmethod
    def from_config(cls, options: Mapping[str, Any], context: AdapterContext) -> WebAdapter:
        """Build from the ``adapters.web`` config section."""
        token = options.get("token")
        return cls(
            host=str(options.get("host", "127.0.0.1")),
            port=int(options.get("port", 8765)),
            token=str(token) if token else None,
            user_name=str(options.get("user_name", "You")),
            rooms=[str(room) for room in options.get("rooms", ["tavern"])],
            playground=context.host,
            data_dir=context.data_dir,
        )

    @property
    def url(self) -> str:
        """Where the page is served."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/"

    async def start(self, sink: EventSink, commands: Sequence[Command] = ()) -> None:
        """Serve the page and its API."""
        self._sink = sink
        app = web.Application(middlewares=[self._guard.middleware], client_max_size=MAX_BODY)
        app.router.add_get("/", self._home)
        app.router.add_get("/room/{room}", self._page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/api/room/{room}/state", self._state)
        app.router.add_get("/api/room/{room}/events", self._events)
        app.router.add_post("/api/room/{room}/say", self._say)
        app.router.add_get("/api/room/{room}/why/{message_id}", self._why)
        app.router.add_post("/api/cards", self._import_card)
        app.router.add_get("/api/room/{room}/memory", self._memories)
        app.router.add_post("/api/room/{room}/memory/{memory_id}/forget", self._forget)
        if self._playground is not None:
            app.add_routes(editor_routes(self._playground, self._guard.csrf))
        if self._data_dir is not None:
            app.add_routes(eval_routes(self._data_dir, self._guard.csrf))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        if self._port == 0:
            self._port = self._runner.addresses[0][1]
        log.info("web playground on %s", self.url)

    async def wait_closed(self) -> None:
        """Return once stopped."""
        await self._closed.wait()

    async def stop(self) -> None:
        """Stop serving; open pages see their event stream end."""
        for queues in self._listeners.values():
            for queue in queues:
                queue.put_nowait({"type": "closed"})
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._closed.set()

    async def post_reply(
        self, *, channel: ChannelKey, identity: Identity, text: str, reply_to: str | None = None
    ) -> str | None:
        """Show a whole reply."""
        message_id = self._new_id()
        self._send(channel, {"type": "start", "id": message_id, **_speaker(identity)})
        self._send(channel, {"type": "delta", "id": message_id, "text": text})
        self._send(channel, {"type": "end", "id": message_id})
        return message_id

    async def stream_reply(
        self,
        *,
        channel: ChannelKey,
        identity: Identity,
        fragments: AsyncIterator[str],
        reply_to: str | None = None,
    ) -> str | None:
        """Show the reply as its fragments arrive."""
        message_id = self._new_id()
        started = False
        try:
            async for fragment in fragments:
                if not started:
                    self._send(channel, {"type": "start", "id": message_id, **_speaker(identity)})
                    started = True
                self._send(channel, {"type": "delta", "id": message_id, "text": fragment})
        finally:
            if started:
                self._send(channel, {"type": "end", "id": message_id})
        return message_id if started else None

    async def send_notice(
        self, *, channel: ChannelKey, text: str, command: CommandEvent | None = None
    ) -> None:
        """Show a system line (a command's answer, an error)."""
        if text:
            self._send(channel, {"type": "notice", "text": text})

    def _new_id(self) -> str:
        return f"web-{self._run}-{next(self._ids)}"

    def _send(self, channel: ChannelKey, event: dict[str, Any]) -> None:
        for queue in self._listeners.get(channel.channel, ()):
            queue.put_nowait(event)

    def _room(self, request: web.Request) -> ChannelKey:
        room = request.match_info["room"]
        if room not in self._rooms:
            raise web.HTTPNotFound(text=f"no room {room}")
        return ChannelKey(self.name, SERVER, room)

    async def _home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther(f"/room/{self._rooms[0]}")

    async def _page(self, request: web.Request) -> web.StreamResponse:
        channel = self._room(request)
        html = render_page(room=channel.channel, rooms=self._rooms, csrf=self._guard.csrf)
        return web.Response(text=html, content_type="text/html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        kind = STATIC.get(name)
        if kind is None:
            raise web.HTTPNotFound()
        text = resources.files("botkit.adapters.web").joinpath("static", name).read_text()
        return web.Response(text=text, content_type=kind)

    async def _state(self, request: web.Request) -> web.StreamResponse:
        """The room's history, cast and the characters that may join it."""
        channel = self._room(request)
        host = self._playground
        if host is None:
            return web.json_response({"history": [], "cast": [], "characters": []})
        characters = {c.id: c for c in host.all_characters()}
        policy, scene, muted = await host.room_settings(channel)
        return web.json_response(
            {
                "policy": policy,
                "policies": list(host.policy_names),
                "scene": scene,
                "muted": sorted(muted),
                "history": [
                    turn_view(turn, characters) for turn in await host.history(channel, HISTORY)
                ],
                "cast": await host.cast_ids(channel),
                "characters": [character_view(c) for c in characters.values()],
                "user": self._user.name,
            }
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: every line and reply fragment of the room, as it happens."""
        channel = self._room(request)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        listeners = self._listeners.setdefault(channel.channel, set())
        listeners.add(queue)
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if event["type"] == "closed":
                    break
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
            await response.write_eof()
        except ConnectionResetError:
            log.debug("%s: a page went away", channel)
        finally:
            listeners.discard(queue)
        return response

    async def _say(self, request: web.Request) -> web.StreamResponse:
        """A line from the page: a ``/command`` or a message to the room."""
        channel = self._room(request)
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text='expected JSON: {"text": …}') from None
        text = str(body.get("text", "")).strip() if isinstance(body, dict) else ""
        if not text:
            raise web.HTTPBadRequest(text="nothing to say")
        if len(text) > MAX_MESSAGE_CHARS:
            raise web.HTTPRequestEntityTooLarge(MAX_MESSAGE_CHARS, len(text))
        assert self._sink is not None
        command = _command_words(text)
        if command:
            await self._sink(
                CommandEvent(
                    event_id=f"web:{uuid.uuid4().hex}",
                    channel=channel,
                    author=self._user,
                    name=command[0],
                    args=tuple(command[1:]),
                    permissions=Permission.MANAGE | Permission.OWNER,
                )
            )
            return web.json_response({"ok": True})
        message_id = self._new_id()
        self._send(
            channel,
            {"type": "message", "id": message_id, "name": self._user.name, "text": text},
        )
        await self._sink(
            MessageEvent(
                event_id=f"web:{message_id}",
                channel=channel,
                author=self._user,
                text=text,
                message_id=message_id,
            )
        )
        return web.json_response({"ok": True, "id": message_id})

    async def _why(self, request: web.Request) -> web.StreamResponse:
        """Why the message ``message_id`` was said, or why nobody answered it."""
        channel = self._room(request)
        message_id = request.match_info["message_id"]
        traces = None if self._playground is None else self._playground.traces
        if traces is None:
            raise web.HTTPNotFound(text="nothing is traced")
        found = traces.of_reply(channel, message_id)
        if found is not None:
            return web.json_response(trace_view(*found))
        for trace in reversed(traces.of_channel(channel)):
            if trace.trigger_id == message_id:
                return web.json_response(trace_view(trace, None))
        raise web.HTTPNotFound(text=f"no trace of {message_id}")

    async def _memories(self, request: web.Request) -> web.StreamResponse:
        """What the room's characters remember: matches for ``?q=``, or the newest."""
        channel = self._room(request)
        if self._playground is None:
            raise web.HTTPNotFound(text="memory is not shown here")
        query = request.query.get("q", "")[:MAX_QUERY]
        try:
            found = await self._playground.memories(channel, query, MEMORIES_SHOWN)
        except ValueError as error:
            return web.json_response({"error": str(error), "items": []})
        return web.json_response({"items": [memory_view(m, score) for m, score in found]})

    async def _forget(self, request: web.Request) -> web.StreamResponse:
        """Forget one memory (the person at the page may manage the room, as ``/forget``
        asks)."""
        channel = self._room(request)
        if self._playground is None:
            raise web.HTTPNotFound(text="memory is not shown here")
        try:
            memory_id = int(request.match_info["memory_id"])
            gone = await self._playground.forget_memory(channel, memory_id)
        except ValueError as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        return web.json_response({"forgotten": gone})

    async def _import_card(self, request: web.Request) -> web.StreamResponse:
        """A Character Card uploaded from the page (field ``card``): checked as the CLI
        checks it, made a character of the imported pack, and loaded."""
        if self._playground is None:
            raise web.HTTPNotFound(text="cards cannot be imported here")
        field = await upload_field(request, "card")
        if field is None:
            raise web.HTTPBadRequest(text="expected a form with a card file")
        try:
            data = await read_bounded(field, MAX_CARD)
        except TooLarge as error:
            raise web.HTTPRequestEntityTooLarge(MAX_CARD, error.size) from None
        filename = _plain_name(field.filename or "card")
        try:
            character_id = await self._playground.import_card(data, filename)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"id": character_id})


def _plain_name(filename: str) -> str:
    """An uploaded file's name for messages: its last part (percent-escapes undone, as
    some clients send them), printable characters only."""
    name = last_part(filename)
    return "".join(ch for ch in name if ch.isprintable())[:100] or "card"


def _speaker(identity: Identity) -> dict[str, Any]:
    return {
        "character_id": identity.character_id,
        "name": identity.name,
        "avatar": identity.avatar,
        "color": identity.color,
    }


def _command_words(text: str) -> list[str]:
    """The words of a ``/command``, or none for a message."""
    if not text.startswith("/") or len(text) < 2:
        return []
    try:
        return shlex.split(text[1:])
    except ValueError:
        return text[1:].split()
